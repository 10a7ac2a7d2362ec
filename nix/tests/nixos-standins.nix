# Stand-ins for the NixOS options that nixos/ and images/rpi.nix set, declared
# with the types NixOS gives them (nixos/modules/misc/assertions.nix,
# config/users-groups.nix, system/etc/etc.nix, system/boot/systemd.nix,
# lib/systemd-unit-options.nix, services/networking/firewall.nix ...), and the
# entries of nixos/modules/rename.nix (nixpkgs >= 25.05) that touch our names.
# Used by nix/tests/real-lib.nix with nixpkgs' real `lib` (../shared/nixpkgs-lib).
# Everything here is written for these tests; nothing is copied from nixpkgs.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  # NixOS's unit option values: a systemd value, or a list of them (one line each).
  unitPrimitive = types.oneOf [
    types.bool
    types.int
    types.str
    types.path
  ];
  unitOption = types.either unitPrimitive (types.listOf unitPrimitive);
  unitOptions = types.attrsOf unitOption;
  strList = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
  service = types.submodule {
    options = {
      description = mkOption {
        type = types.str;
        default = "";
      };
      documentation = strList;
      wantedBy = strList;
      requiredBy = strList;
      wants = strList;
      requires = strList;
      after = strList;
      before = strList;
      environment = mkOption {
        type = types.attrsOf (
          types.nullOr (
            types.oneOf [
              types.str
              types.path
              types.package
            ]
          )
        );
        default = { };
      };
      path = mkOption {
        type = types.listOf (types.either types.package types.str);
        default = [ ];
      };
      unitConfig = mkOption {
        type = unitOptions;
        default = { };
      };
      serviceConfig = mkOption {
        type = unitOptions;
        default = { };
      };
      startLimitBurst = mkOption {
        type = types.int;
      };
      startLimitIntervalSec = mkOption {
        type = types.int;
      };
    };
  };
  user = types.submodule {
    options = {
      isSystemUser = mkOption {
        type = types.bool;
        default = false;
      };
      isNormalUser = mkOption {
        type = types.bool;
        default = false;
      };
      group = mkOption {
        type = types.str;
        default = "";
      };
      description = mkOption {
        type = types.str;
        default = "";
      };
      home = mkOption {
        type = types.path;
        default = "/var/empty";
      };
      extraGroups = strList;
      openssh.authorizedKeys.keys = mkOption {
        type = types.listOf types.singleLineStr;
        default = [ ];
      };
    };
  };
  etcFile = types.submodule {
    options = {
      source = mkOption { type = types.path; };
      text = mkOption {
        type = types.nullOr types.lines;
        default = null;
      };
    };
  };
  enable = name: mkOption {
    type = types.bool;
    default = false;
    description = "${name} (stand-in)";
  };
in
{
  imports = [
    # nixpkgs' nixos/modules/rename.nix, the entries that concern us: the Rust
    # conduwuit module was removed (its successor is services.matrix-continuwuity).
    (lib.mkRemovedOptionModule [ "services" "conduwuit" ] "(stand-in) conduwuit was discontinued.")
  ];

  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      internal = true;
      default = [ ];
    };
    warnings = mkOption {
      type = types.listOf types.str;
      internal = true;
      default = [ ];
    };
    # nixpkgs' own Matrix server modules: a namespace of ours under one of these
    # names would merge into theirs.
    services.matrix-continuwuity.enable = enable "continuwuity";
    services.matrix-conduit.enable = enable "conduit";
    services.matrix-synapse.enable = enable "synapse";

    users.users = mkOption {
      type = types.attrsOf user;
      default = { };
    };
    users.groups = mkOption {
      type = types.attrsOf (types.submodule { options.members = strList; });
      default = { };
    };
    networking.firewall.allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    environment.etc = mkOption {
      type = types.attrsOf etcFile;
      default = { };
    };
    systemd.services = mkOption {
      type = types.attrsOf service;
      default = { };
    };
  };
}
