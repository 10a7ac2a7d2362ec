# The arguments of builtins.fetchTarball for the nixpkgs revision pinned in
# flake.lock, so default.nix (no flakes) builds against the same nixpkgs as the
# flake. Pure: nix/check.sh evaluates it without fetching.
let
  lock = builtins.fromJSON (builtins.readFile ../flake.lock);
  node = lock.nodes.${lock.nodes.${lock.root}.inputs.nixpkgs}.locked;
in
assert node.type == "github";
{
  url = "https://github.com/${node.owner}/${node.repo}/archive/${node.rev}.tar.gz";
  # The lock's narHash is the hash of the unpacked tree, which is what
  # fetchTarball checks.
  sha256 = node.narHash;
}
