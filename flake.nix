{
  description = "conduwuit (Python): a Matrix homeserver with an embedded RocksDB, after conduwuit";

  # nixpkgs only (pinned in flake.lock). See docs/deploying/nixos.md for what has
  # been evaluated or built, and where.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});
      version = (import ./nix/version.nix) + "+" + (self.shortRev or self.dirtyShortRev or "dirty");
      package = pkgs: pkgs.callPackage ./nix/package.nix { src = ./.; inherit version; };
    in
    {
      packages = forAllSystems (
        system: pkgs:
        {
          default = package pkgs;
          oci-image = pkgs.callPackage ./nix/oci-image.nix {
            conduwuit = package pkgs;
            revision = self.rev or "dirty";
            lastModifiedDate = self.lastModifiedDate or "19700101000001";
          };
        }
        // nixpkgs.lib.optionalAttrs (system == "aarch64-linux") {
          sdImage = self.nixosConfigurations.rpi.config.system.build.sdImage;
        }
      );

      nixosModules.default =
        { pkgs, lib, ... }:
        {
          imports = [ ./nixos ];
          services.conduwuit-py.package = lib.mkDefault (package pkgs);
        };
      # What the module computes from its options, without nixpkgs (nixos/lib.nix).
      lib = import ./nixos/lib.nix;

      # The Raspberry Pi 3 and 4 SD-card image (images/rpi.nix); not the Pi 5.
      nixosConfigurations.rpi = nixpkgs.lib.nixosSystem {
        system = "aarch64-linux";
        modules = [
          "${nixpkgs}/nixos/modules/installer/sd-card/sd-image-aarch64.nix"
          self.nixosModules.default
          ./images/rpi.nix
        ];
      };

      checks = forAllSystems (
        system: pkgs: {
          package = package pkgs;
          vm = pkgs.testers.runNixOSTest (import ./nix/vm-test.nix { module = self.nixosModules.default; });
        }
      );

      devShells = forAllSystems (
        system: pkgs: {
          default = pkgs.mkShell {
            packages = [
              (pkgs.python3.withPackages (
                ps:
                let
                  deps = import ./nix/python-deps.nix ps;
                in
                deps.runtime ++ deps.test ++ deps.dev
              ))
              pkgs.go
              pkgs.gnumake
              pkgs.strace
            ];
          };
        }
      );

      formatter = forAllSystems (system: pkgs: pkgs.nixfmt);
    };
}
