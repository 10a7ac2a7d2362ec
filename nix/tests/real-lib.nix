# The NixOS module (nixos/) evaluated by nixpkgs' real module system: `lib` is
# nixpkgs' lib (../shared/nixpkgs-lib/lib), the NixOS options the module sets are
# stand-ins typed as NixOS types them, with nixpkgs' rename.nix entry for
# services.conduwuit (nix/tests/nixos-standins.nix). Run by nix/check-real-lib.sh
# with Nix 2.26:
#   nix-instantiate --eval --strict --json -E \
#     'import ./nix/tests/real-lib.nix { lib = import ../shared/nixpkgs-lib/lib; }'
# `case` picks one evaluation (the checks that must fail are run one by one);
# without it, every evaluation that must succeed, with its results as JSON for
# tests/packaging/test_nix.py.
{
  lib,
  case ? null,
  credentialsDirectory ? "/run/credentials/conduwuit-py.service",
}:
let
  # Just enough of pkgs for the module: paths stand for what would be built, once
  # the text is computed (as building would).
  storePath = name: text: builtins.seq (builtins.stringLength text) "/nix/store/00000000000000000000000000000000-${name}";
  pkgs = {
    writeText = storePath;
    writeShellScript = storePath;
    python3.interpreter = "/nix/store/00000000000000000000000000000000-python3/bin/python3";
    curl = package // { name = "curl"; };
    jq = package // { name = "jq"; };
  };
  package = {
    type = "derivation";
    name = "conduwuit-py-0.1.0";
    outPath = "/nix/store/00000000000000000000000000000000-conduwuit-py-0.1.0";
    meta.mainProgram = "conduwuit";
  };

  eval =
    modules:
    (lib.evalModules {
      specialArgs = { inherit pkgs; };
      modules = [ ./nixos-standins.nix ] ++ modules;
    }).config;

  # What NixOS does with failed assertions (nixos/modules/system/activation/top-level.nix).
  checked =
    config:
    let
      failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
    in
    if failed == [ ] then config else throw "Failed assertions:\n- ${lib.concatStringsSep "\n- " failed}";

  ours = ../../nixos;

  family = checked (eval [
    ours
    {
      services.conduwuit-py = {
        enable = true;
        inherit package;
        settings.global = {
          server_name = "example.org";
          port = [
            8008
            8448
          ];
          allow_registration = true;
          registration_token_file = "/run/secrets/token";
          # Nulls, declared or not, at any depth, are left out.
          registration_shared_secret = null;
          address = null;
          well_known = {
            client = "https://matrix.example.org";
            server = null;
            support_email = "admin@example.org";
          };
          new_user_displayname_suffix = "🏡";
          client_shutdown_timeout = 30.5;
        };
      };
    }
  ]);

  # A reverse proxy shares the unix socket through the service's group.
  socket = checked (eval [
    ours
    {
      services.conduwuit-py = {
        enable = true;
        inherit package;
        group = "caddy";
        settings.global = {
          server_name = "example.org";
          unix_socket_path = "/run/conduwuit-py/conduwuit.sock";
          unix_socket_perms = 660;
        };
      };
      users.groups.caddy = { };
    }
  ]);

  # The Pi image's configuration (images/rpi.nix) with the module, as flake.nix
  # combines them (sd-image-aarch64.nix is replaced by the options it declares).
  rpi = checked (eval [
    ./image-standins.nix
    ours
    { services.conduwuit-py.package = package; }
    ../../images/rpi.nix
  ]);

  # The VM test's node (nix/vm-test.nix), as runNixOSTest would import it.
  vm = checked (eval [
    ((import ../vm-test.nix { module = ours; }).nodes.server { inherit pkgs; })
    { services.conduwuit-py.package = package; }
  ]);

  disabled = checked (eval [
    ours
    { services.conduwuit-py.enable = false; }
  ]);

  sf = family.systemd.services.conduwuit-py;
  sc = sf.serviceConfig;
  cases = {
    # The old namespace, as this module used it before: nixpkgs' rename.nix
    # makes `services.conduwuit` a removed option, which cannot have sub-options.
    old-namespace =
      (eval [
        (import ../../nixos/service.nix { name = "conduwuit"; })
        { services.conduwuit.enable = false; }
      ]).systemd.services;
    # Our module with a group that does not exist.
    missing-group =
      (checked (eval [
        ours
        {
          services.conduwuit-py = {
            enable = true;
            inherit package;
            group = "nginx";
            settings.global.server_name = "example.org";
          };
        }
      ])).systemd.services;
    # A value TOML cannot hold is refused by the type.
    function-in-settings =
      (eval [
        ours
        {
          services.conduwuit-py = {
            enable = true;
            inherit package;
            settings.global.server_name = "example.org";
            settings.global.oops = x: x;
          };
        }
      ]).systemd.services.conduwuit-py.environment;
    # The module's own assertions go through NixOS's assertion mechanism.
    socket-and-address =
      (checked (eval [
        ours
        {
          services.conduwuit-py = {
            enable = true;
            inherit package;
            settings.global = {
              server_name = "example.org";
              unix_socket_path = "/run/conduwuit-py/conduwuit.sock";
              address = [ "127.0.0.1" ];
            };
          };
        }
      ])).systemd.services;
  };
in
if case != null then
  cases.${case}
else
  assert disabled.systemd.services == { };
  assert vm.systemd.services.conduwuit-py.serviceConfig.LoadCredential == [
    "registration_token:/etc/conduwuit-test-token"
  ];
  assert rpi.services.conduwuit-py.enable && rpi.services.caddy.environmentFile == "/var/lib/conduwuit-setup/env";
  assert rpi.systemd.services.conduwuit-py.serviceConfig.EnvironmentFile == "/var/lib/conduwuit-setup/env";
  assert rpi.services.openssh.authorizedKeysFiles == [ "/var/lib/conduwuit-ssh/%u" ];
  assert rpi.systemd.services.conduwuit-firstboot.before == [ "sshd.service" ];
  assert disabled.users.users == { };
  assert family.users.users.conduwuit-py.isSystemUser;
  assert family.users.users.conduwuit-py.group == "conduwuit-py";
  assert family.users.groups ? conduwuit-py;
  assert socket.users.users ? conduwuit-py && !(socket.users.groups ? conduwuit-py);
  assert socket.systemd.services.conduwuit-py.serviceConfig.Group == "caddy";
  assert sc.User == "conduwuit-py" && sc.Group == "conduwuit-py" && sc.DynamicUser;
  assert sc.StateDirectory == "conduwuit-py";
  assert sc.PrivateMounts && sc.PrivateIPC && sc.TimeoutStartSec == "10min";
  assert sf.unitConfig.StartLimitBurst == 5;
  assert lib.hasPrefix "+/nix/store/" sc.ExecStartPre;
  assert sc.ExecStart == "${package.outPath}/bin/conduwuit serve";
  assert lib.hasSuffix "-conduwuit.toml" sf.environment.CONDUWUIT_CONFIG;
  assert family.environment.etc."conduwuit-py/conduwuit.toml".source == sf.environment.CONDUWUIT_CONFIG;
  assert family.networking.firewall.allowedTCPPorts == [ ];
  {
    # The file's text, from the settings as the module system merged them (the
    # module hands the same to pkgs.writeText).
    toml =
      ((import ../../nixos/lib.nix).service {
        inherit (family.services.conduwuit-py) settings;
        inherit credentialsDirectory;
      }).toml;
    socketToml =
      ((import ../../nixos/lib.nix).service { inherit (socket.services.conduwuit-py) settings; }).toml;
    settings = family.services.conduwuit-py.settings;
    rpiToml =
      ((import ../../nixos/lib.nix).service {
        inherit (rpi.services.conduwuit-py) settings;
        inherit credentialsDirectory;
      }).toml;
    # The package's source (nix/package-source.nix) as lib.fileset sees it, relative
    # to the repository: tests/packaging/test_check_phase.py copies these files.
    packageFiles =
      let
        root = toString ../..;
        files = lib.fileset.toList (import ../package-source.nix { inherit lib; src = ../..; });
      in
      map (f: lib.removePrefix "${root}/" (toString f)) files;
    serviceConfig = sc;
    inherit (sf)
      environment
      unitConfig
      wantedBy
      after
      ;
  }
