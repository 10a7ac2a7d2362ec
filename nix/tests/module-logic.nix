# Evaluates the NixOS module's logic (nixos/lib.nix) on sample settings, with
# only builtins: nix-instantiate --eval --strict --json nix/tests/module-logic.nix
# Each `assert` below fails the evaluation; the JSON result is checked further
# by tests/packaging/test_nix.py (TOML parsed and loaded by the real server).
{
  credentialsDirectory ? "/run/credentials/conduwuit-py.service",
}:
let
  l = import ../../nixos/lib.nix;
  inherit (builtins) elem;

  family = l.service {
    inherit credentialsDirectory;
    exe = "/nix/store/0000-conduwuit/bin/conduwuit";
    configFile = "/nix/store/0000-conduwuit.toml";
    extraEnvironment.CONDUWUIT_LOG = "info";
    settings = {
      global = {
        server_name = "example.org";
        address = null;
        port = [
          8008
          8448
        ];
        unix_socket_path = null;
        database_path = "/somewhere/else";
        allow_registration = true;
        registration_token_file = "/run/secrets/token";
        allow_federation = true;
        trusted_servers = [ "matrix.org" ];
        new_user_displayname_suffix = "🏡 \"family\"\n";
        client_shutdown_timeout = 30.5;
        well_known = {
          client = "https://matrix.example.org";
          server = null;
          support_email = "admin@example.org";
        };
      };
    };
  };

  socketAndAddress = l.service {
    settings.global = {
      server_name = "example.org";
      unix_socket_path = "/run/conduwuit/conduwuit.sock";
      address = [ "127.0.0.1" ];
    };
  };
  openWithoutConsent = l.service {
    settings.global = {
      server_name = "example.org";
      allow_registration = true;
    };
  };
  tokenInStore = l.service {
    settings.global = {
      server_name = "example.org";
      allow_registration = true;
      registration_token_file = "/nix/store/abc-token";
    };
  };
  minimal = l.service { settings.global.server_name = "example.org"; };
  sc = family.serviceConfig;
in
# nulls are gone, the database path is the state directory, the token is a credential
assert !(family.settings.global ? address);
assert !(family.settings.global.well_known ? server);
assert family.settings.global.database_path == "/var/lib/conduwuit-py";
assert
  family.settings.global.registration_token_file == "${credentialsDirectory}/registration_token";
assert sc.LoadCredential == [ "registration_token:/run/secrets/token" ];
assert minimal.serviceConfig.LoadCredential == [ ];
assert sc.ExecStart == "/nix/store/0000-conduwuit/bin/conduwuit serve";
assert family.environment.CONDUWUIT_CONFIG == "/nix/store/0000-conduwuit.toml";
assert family.environment.CONDUWUIT_LOG == "info";
assert family.ports == [
  8008
  8448
];
assert minimal.ports == [ 8008 ];
# the unit
assert sc.Type == "notify" && sc.DynamicUser && sc.StateDirectory == "conduwuit-py";
assert sc.User == "conduwuit-py" && sc.PrivateMounts && sc.PrivateIPC;
assert family.unitConfig.StartLimitBurst == 5 && sc.TimeoutStartSec == "10min";
assert sc.StateDirectoryMode == "0700" && sc.Restart == "on-failure";
assert sc.ProtectSystem == "strict" && sc.MemoryDenyWriteExecute && sc.NoNewPrivileges;
assert builtins.length sc.SystemCallFilter == 2;
assert elem "AF_UNIX" sc.RestrictAddressFamilies;
# assertions
assert l.failures family == [ ];
assert l.failures minimal == [ ];
assert builtins.length (l.failures socketAndAddress) == 1;
assert builtins.length (l.failures openWithoutConsent) == 1;
assert builtins.length (l.failures tokenInStore) == 1;
{
  inherit (family) toml environment serviceConfig unitConfig;
  minimalToml = minimal.toml;
  failures = {
    socketAndAddress = l.failures socketAndAddress;
    openWithoutConsent = l.failures openWithoutConsent;
    tokenInStore = l.failures tokenInStore;
  };
}
