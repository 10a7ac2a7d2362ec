# Evaluates flake.nix's `outputs` against a stand-in nixpkgs (no nixpkgs can be
# fetched where this runs): checks the wiring — which outputs exist for which
# systems, what each is made from — not the packages themselves.
#   nix-instantiate --eval --strict --json -E 'import ./nix/tests/flake-outputs.nix'
let
  inherit (builtins) attrNames listToAttrs map;
  genAttrs = names: f: listToAttrs (map (name: { inherit name; value = f name; }) names);
  pkgsFor = system: {
    inherit system;
    callPackage = fn: args: { callPackage = baseNameOf fn; inherit args; };
    testers.runNixOSTest = test: { nixosTest = test.name; };
    mkShell = args: { shell = true; };
    python3.withPackages = f: "python3-with-packages";
    go = "go";
    gnumake = "gnumake";
    strace = "strace";
    nixfmt = "nixfmt";
  };
  nixpkgs = {
    outPath = "/nonexistent/nixpkgs";
    lib = {
      inherit genAttrs;
      optionalAttrs = cond: set: if cond then set else { };
      nixosSystem = args: {
        config.system.build.sdImage = {
          sdImage = args.system;
          modules = builtins.length args.modules;
        };
      };
    };
    legacyPackages = genAttrs [ "x86_64-linux" "aarch64-linux" ] pkgsFor;
  };
  flake = import ../../flake.nix;
  self = outputs // {
    rev = "0123456789abcdef0123456789abcdef01234567";
    shortRev = "0123456";
    lastModifiedDate = "20261127120000";
  };
  outputs = flake.outputs { inherit self nixpkgs; };
  pkgNames = s: attrNames outputs.packages.${s};
  x86 = outputs.packages.x86_64-linux;
in
assert flake.inputs.nixpkgs.url == "github:NixOS/nixpkgs/nixos-25.11";
assert attrNames outputs == [ "checks" "devShells" "formatter" "lib" "nixosConfigurations" "nixosModules" "packages" ];
assert pkgNames "x86_64-linux" == [ "default" "oci-image" ];
assert pkgNames "aarch64-linux" == [ "default" "oci-image" "sdImage" ];
assert outputs.packages.aarch64-linux.sdImage.sdImage == "aarch64-linux";
assert x86.default.callPackage == "package.nix";
assert x86.default.args.version == "0.1.0+0123456";
assert x86.oci-image.callPackage == "oci-image.nix";
assert x86.oci-image.args.revision == self.rev;
assert x86.oci-image.args.lastModifiedDate == "20261127120000";
assert attrNames outputs.checks.aarch64-linux == [ "package" "vm" ];
assert outputs.checks.x86_64-linux.vm.nixosTest == "conduwuit";
assert outputs.devShells.x86_64-linux.default.shell;
assert outputs.formatter.x86_64-linux == "nixfmt";
{
  packages = genAttrs [ "x86_64-linux" "aarch64-linux" ] pkgNames;
  checks = attrNames outputs.checks.x86_64-linux;
}
