# NixOS module: services.conduwuit. The flake exports it as nixosModules.default
# (with the flake's package as the default `package`); without flakes:
#   imports = [ /path/to/checkout/nixos ];  services.conduwuit.package = ...;
# The option -> TOML / systemd logic lives in ./lib.nix (pure, tested without nixpkgs).
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.conduwuit;
  logic = import ./lib.nix;
  format = pkgs.formats.toml { };
  rendered = logic.service {
    inherit (cfg) settings extraEnvironment;
    exe = lib.getExe cfg.package;
    configFile = pkgs.writeText "conduwuit.toml" rendered.toml;
  };
  inherit (lib) mkOption types;
  nullOrStrList = types.nullOr (types.either types.str (types.listOf types.str));
in
{
  options.services.conduwuit = {
    enable = lib.mkEnableOption "conduwuit (Python), a Matrix homeserver";

    package = mkOption {
      type = types.package;
      defaultText = lib.literalExpression "the flake's packages.default";
      description = "The conduwuit (Python) package to run.";
    };

    settings = mkOption {
      default = { };
      description = ''
        The server's configuration, written as its TOML file. Every option is
        documented in docs/conduwuit-example.toml; the common ones are typed here.
        Options left null are left out, so the server's default applies.
      '';
      type = types.submodule {
        freeformType = format.type;
        options.global = mkOption {
          default = { };
          description = "The [global] table.";
          type = types.submodule {
            freeformType = format.type;
            options = {
              server_name = mkOption {
                type = types.str;
                example = "example.org";
                description = ''
                  The part after the colon in user IDs (@alice:example.org). It cannot
                  be changed once users exist.
                '';
              };
              address = mkOption {
                type = nullOrStrList;
                default = null;
                example = [ "127.0.0.1" "::1" ];
                description = ''
                  Address(es) to listen on. null: the server's default, loopback only
                  (127.0.0.1 and ::1), for a reverse proxy on the same machine.
                '';
              };
              port = mkOption {
                type = types.nullOr (types.either types.port (types.listOf types.port));
                default = null;
                example = 8008;
                description = "Port(s) to listen on. null: 8008.";
              };
              unix_socket_path = mkOption {
                type = types.nullOr types.str;
                default = null;
                example = "/run/conduwuit/conduwuit.sock";
                description = ''
                  Listen on this unix socket instead of TCP (then leave address null).
                  /run/conduwuit is the service's RuntimeDirectory.
                '';
              };
              database_path = mkOption {
                type = types.str;
                default = logic.stateDirectory;
                readOnly = true;
                description = ''
                  The database, in the service's StateDirectory (mode 0700, owned by
                  the dynamic user). Fixed: the sandbox can write nowhere else.
                '';
              };
              allow_registration = mkOption {
                type = types.bool;
                default = false;
                description = "Allow new accounts to be registered (with a token).";
              };
              registration_token_file = mkOption {
                type = types.nullOr types.str;
                default = null;
                example = "/run/secrets/conduwuit-registration-token";
                description = ''
                  A file (outside the Nix store) whose contents are the registration
                  token. systemd reads it with LoadCredential and hands it to the
                  service, so the token never enters the Nix store.
                '';
              };
              allow_federation = mkOption {
                type = types.bool;
                default = true;
                description = "Federate with other Matrix servers.";
              };
              trusted_servers = mkOption {
                type = types.listOf types.str;
                default = [ "matrix.org" ];
                description = "Servers asked for other servers' signing keys (notaries).";
              };
              well_known = mkOption {
                default = { };
                description = "/.well-known/matrix/{client,server,support} (delegation).";
                type = types.submodule {
                  freeformType = format.type;
                  options = {
                    client = mkOption {
                      type = types.nullOr types.str;
                      default = null;
                      example = "https://matrix.example.org";
                      description = "m.homeserver.base_url for clients.";
                    };
                    server = mkOption {
                      type = types.nullOr types.str;
                      default = null;
                      example = "matrix.example.org:443";
                      description = "m.server for other servers (federation delegation).";
                    };
                  };
                };
              };
            };
          };
        };
      };
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open the TCP port(s) in settings.global.port. Only useful when the server
        listens on a public address; behind a reverse proxy open the proxy's ports.
      '';
    };

    extraEnvironment = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        CONDUWUIT_LOG = "info,conduwuit.http=debug";
      };
      description = "Extra environment of the service (CONDUWUIT_* options win over the file).";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = rendered.assertions;

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall rendered.ports;

    # `conduwuit check-config` etc. on PATH, and the generated file where an admin looks.
    environment.systemPackages = [ cfg.package ];
    environment.etc."conduwuit/conduwuit.toml".source = pkgs.writeText "conduwuit.toml" rendered.toml;

    systemd.services.conduwuit = {
      description = "conduwuit (Python) Matrix homeserver";
      documentation = [ "https://github.com/girlbossceo/conduwuit" ];
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      environment = rendered.environment;
      serviceConfig = rendered.serviceConfig;
    };
  };
}
