# The flake's outputs for people without flakes:
#   nix-build -A package        nix-build -A oci-image       nix-build -A vm-test
#   nix-build -A sdImage        (aarch64: an aarch64 builder, binfmt or a remote builder)
#   NixOS: imports = [ (import /path/to/checkout {}).nixosModule ];
# nixpkgs is the revision pinned in flake.lock, downloaded by fetchTarball the
# first time (this needs the network; pass `pkgs` to use your own nixpkgs).
{
  system ? builtins.currentSystem,
  nixpkgs ? builtins.fetchTarball (import ./nix/nixpkgs-src.nix),
  pkgs ? import nixpkgs { inherit system; },
}:

let
  package = pkgs.callPackage ./nix/package.nix { };
  rpi = import "${nixpkgs}/nixos/lib/eval-config.nix" {
    system = "aarch64-linux";
    modules = [
      "${nixpkgs}/nixos/modules/installer/sd-card/sd-image-aarch64.nix"
      ./nix/module.nix
      ./images/rpi.nix
    ];
  };
in
{
  inherit package;
  default = package;
  oci-image = pkgs.callPackage ./nix/oci-image.nix { conduwuit = package; };
  nixosModule = ./nix/module.nix;
  vm-test = pkgs.testers.runNixOSTest (import ./nix/vm-test.nix { module = ./nix/module.nix; });
  sdImage = rpi.config.system.build.sdImage;
}
