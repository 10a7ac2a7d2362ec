# The NixOS module with this checkout's package as the default `package`
# (default.nix's nixosModule; the flake's nixosModules.default does the same).
{ pkgs, lib, ... }:
{
  imports = [ ../nixos ];
  services.conduwuit-py.package = lib.mkDefault (pkgs.callPackage ./package.nix { });
}
