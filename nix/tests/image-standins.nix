# Stand-ins for the further NixOS options images/rpi.nix sets (beyond
# nix/tests/nixos-standins.nix), with the types NixOS gives them, so that the Pi
# image's configuration is evaluated by nixpkgs' real module system too
# (nix/tests/real-lib.nix). Written for these tests; nothing is copied from nixpkgs.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  bool = mkOption {
    type = types.bool;
    default = false;
  };
  lines = mkOption {
    type = types.lines;
    default = "";
  };
in
{
  options = {
    system.stateVersion = mkOption { type = types.str; };
    networking.hostName = mkOption {
      type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$";
    };
    # nixos/modules/installer/sd-card/sd-image.nix
    sdImage.populateFirmwareCommands = lines;
    fileSystems = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.options = mkOption {
            type = types.nonEmptyListOf types.nonEmptyStr;
            default = [ "defaults" ];
          };
        }
      );
      default = { };
    };
    services.caddy = {
      enable = bool;
      globalConfig = lines;
      extraConfig = lines;
      environmentFile = mkOption {
        type = types.nullOr types.path;
        default = null;
      };
    };
    services.openssh = {
      enable = bool;
      authorizedKeysFiles = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      settings = mkOption {
        type = types.submodule {
          freeformType = types.attrsOf (
            types.oneOf [
              types.bool
              types.int
              types.str
              (types.listOf types.str)
            ]
          );
          options = {
            PasswordAuthentication = mkOption {
              type = types.nullOr types.bool;
              default = true;
            };
            KbdInteractiveAuthentication = mkOption {
              type = types.bool;
              default = true;
            };
            PermitRootLogin = mkOption {
              type = types.enum [
                "yes"
                "without-password"
                "prohibit-password"
                "forced-commands-only"
                "no"
              ];
              default = "prohibit-password";
            };
          };
        };
        default = { };
      };
    };
    security.sudo.wheelNeedsPassword = mkOption {
      type = types.bool;
      default = true;
    };
    system.autoUpgrade.enable = bool;
    services.journald.extraConfig = lines;
    boot.tmp.useTmpfs = bool;
    zramSwap.enable = bool;
  };
}
