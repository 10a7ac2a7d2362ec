# The NixOS module, for the option name `services.<name>` (nixos/default.nix gives
# "conduwuit-py"; nix/tests/real-lib.nix also tries the old "conduwuit" to show
# that nixpkgs' rename.nix refuses it). The option -> TOML / systemd logic lives in
# ./lib.nix (pure, tested without nixpkgs).
{ name }:
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.${name};
  logic = import ./lib.nix;
  configFile = pkgs.writeText "conduwuit.toml" rendered.toml;
  rendered = logic.service {
    inherit (cfg) settings extraEnvironment user group;
    inherit configFile;
    exe = lib.getExe cfg.package;
    checkState = pkgs.writeShellScript "conduwuit-py-check-state" (builtins.readFile ./check-state.sh);
  };
  inherit (lib) mkOption types;
  nullOrStrList = types.nullOr (types.either types.str (types.listOf types.str));
  # nixpkgs' pkgs.formats.toml type has no null; this one has, and nixos/lib.nix
  # drops every null (at any depth) before writing the file, so that
  # `settings.global.some_option = null;` means "the server's default".
  tomlValue =
    types.nullOr (
      types.oneOf [
        types.bool
        types.int
        types.float
        types.str
        types.path
        (types.attrsOf tomlValue)
        (types.listOf tomlValue)
      ]
    )
    // {
      description = "TOML value (null: left out)";
    };
in
{
  options.services.${name} = {
    enable = lib.mkEnableOption "conduwuit (Python), a Matrix homeserver";

    user = mkOption {
      type = types.nonEmptyStr;
      default = name;
      description = ''
        The user the server runs as. The module creates "${name}" (a system user);
        another name must exist already. systemd's DynamicUser applies either way.
      '';
    };

    group = mkOption {
      type = types.nonEmptyStr;
      default = name;
      example = "caddy";
      description = ''
        The group the server runs as, which owns the RuntimeDirectory (mode 0750) and
        the unix socket (unix_socket_perms): put the reverse proxy's user in it, or
        name the proxy's group here. The module creates "${name}"; another name must
        exist already.
      '';
    };

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
        freeformType = tomlValue;
        options.global = mkOption {
          default = { };
          description = "The [global] table.";
          type = types.submodule {
            freeformType = tomlValue;
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
                description = ''
                  Port(s) to listen on. null: 8008, the server's own default (nixpkgs'
                  continuwuity module uses 6167; set it to keep a proxy's configuration).
                '';
              };
              unix_socket_path = mkOption {
                type = types.nullOr types.str;
                default = null;
                example = "/run/${name}/conduwuit.sock";
                description = ''
                  Listen on this unix socket instead of TCP (then leave address null).
                  /run/${name} is the service's RuntimeDirectory (mode 0750, the
                  service's group: see `group`).
                '';
              };
              unix_socket_perms = mkOption {
                type = types.ints.positive;
                default = 660;
                description = ''
                  Permissions of the unix socket, written as octal digits (660: the
                  user and the group read and write).
                '';
              };
              max_request_size = mkOption {
                type = types.ints.positive;
                default = 20000000;
                description = ''
                  Largest accepted request body, in bytes (media uploads). Raise the
                  reverse proxy's limit with it.
                '';
              };
              database_path = mkOption {
                type = types.str;
                default = logic.stateDirectory;
                readOnly = true;
                description = ''
                  The database, in the service's StateDirectory (mode 0700, owned by
                  the service's user). Fixed: the sandbox can write nowhere else. Not
                  /var/lib/conduwuit, where nixpkgs' removed services.conduwuit kept
                  the Rust server's database: the service refuses to start while a
                  database there is not moved or acknowledged (nixos/check-state.sh).
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
                  freeformType = tomlValue;
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
    assertions = rendered.assertions ++ [
      {
        assertion = cfg.user != name -> config.users.users ? ${cfg.user};
        message = "services.${name}.user: the user ${cfg.user} must exist (users.users)";
      }
      {
        assertion = cfg.group != name -> config.users.groups ? ${cfg.group};
        message = "services.${name}.group: the group ${cfg.group} must exist (users.groups)";
      }
    ];

    users.users = lib.mkIf (cfg.user == name) {
      ${name} = {
        isSystemUser = true;
        inherit (cfg) group;
        description = "conduwuit (Python) Matrix homeserver";
      };
    };
    users.groups = lib.mkIf (cfg.group == name) { ${name} = { }; };

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall rendered.ports;

    # `conduwuit check-config` etc. on PATH, and the generated file where an admin looks.
    environment.systemPackages = [ cfg.package ];
    environment.etc."${name}/conduwuit.toml".source = configFile;

    systemd.services.${name} = {
      description = "conduwuit (Python) Matrix homeserver";
      documentation = [ "https://github.com/girlbossceo/conduwuit" ];
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      environment = rendered.environment;
      inherit (rendered) unitConfig serviceConfig;
    };
  };
}
