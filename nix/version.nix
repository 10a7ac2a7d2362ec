# Keep equal to conduwuit.__version__ (tests/packaging/test_nix.py checks).
"0.1.0"
