from gltui.cli import main

raise SystemExit(main())
