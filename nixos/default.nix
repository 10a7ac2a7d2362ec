# NixOS module: services.conduwuit-py. The flake exports it as nixosModules.default
# (with the flake's package as the default `package`); without flakes:
#   imports = [ /path/to/checkout/nixos ];  services.conduwuit-py.package = ...;
# Not services.conduwuit: nixpkgs declares that one removed (nixos/modules/rename.nix),
# and a module under it fails every NixOS >= 25.05 evaluation (nix/tests/real-lib.nix).
import ./service.nix { name = (import ./lib.nix).name; }
