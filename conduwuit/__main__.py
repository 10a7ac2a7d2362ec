from conduwuit.cli import main

raise SystemExit(main())
