# The NixOS module's logic as pure functions over plain data: settings to the
# TOML text, and settings to the systemd service (ExecStart, environment,
# credentials, hardening). Only builtins: nix/check.sh evaluates it with
# `nix-instantiate --eval --strict` where nixpkgs cannot be had, and
# tests/packaging/ checks the output against the server and the generic unit.
# Keep to what Nix 2.8 evaluates.
let
  inherit (builtins)
    any
    attrNames
    concatStringsSep
    filter
    isAttrs
    isBool
    isFloat
    isInt
    isList
    isPath
    isString
    listToAttrs
    match
    toJSON
    ;

  isTable = v: isAttrs v && !(v ? outPath);

  # Nulls mean "the server's default": drop them (recursively) before writing TOML,
  # which has no null.
  filterNulls =
    v:
    if isTable v then
      listToAttrs (
        map (name: {
          inherit name;
          value = filterNulls v.${name};
        }) (filter (name: v.${name} != null) (attrNames v))
      )
    else if isList v then
      map filterNulls (filter (x: x != null) v)
    else
      v;

  tomlKey = k: if match "[A-Za-z0-9_-]+" k != null then k else toJSON k;

  # JSON strings, integers and booleans are TOML too (same escapes).
  tomlValue =
    v:
    if isString v || isInt v || isBool v || isFloat v then
      toJSON v
    else if isPath v || (isAttrs v && v ? outPath) then
      toJSON (toString v)
    else if isList v then
      "[" + concatStringsSep ", " (map tomlValue v) + "]"
    else if isAttrs v then
      "{ " + concatStringsSep ", " (map (k: "${tomlKey k} = ${tomlValue v.${k}}") (attrNames v)) + " }"
    else
      throw "conduwuit settings: cannot write ${builtins.typeOf v} as TOML";

  # Scalars of a table first, then its sub-tables as [a.b] sections.
  tomlTable =
    path: t:
    let
      names = attrNames t;
      subtables = filter (n: isTable t.${n}) names;
      scalars = filter (n: !(isTable t.${n})) names;
      header = if path == [ ] then "" else "[" + concatStringsSep "." (map tomlKey path) + "]\n";
      body = concatStringsSep "" (map (n: "${tomlKey n} = ${tomlValue t.${n}}\n") scalars);
      own = if path == [ ] && scalars == [ ] then "" else header + body + "\n";
    in
    own + concatStringsSep "" (map (n: tomlTable (path ++ [ n ]) t.${n}) subtables);

  toTOML = settings: tomlTable [ ] (filterNulls settings);

  toList = v: if v == null then [ ] else if isList v then v else [ v ];

  # Not "conduwuit": that is where nixpkgs' (removed) services.conduwuit kept the
  # Rust server's RocksDB, and where this module kept ours before the rename.
  name = "conduwuit-py";
  stateDirectory = "/var/lib/${name}";
  # Databases this module does not open by itself (nixos/check-state.sh).
  oldStateDirectories = [
    "/var/lib/private/conduwuit"
    "/var/lib/conduwuit"
  ];

  # Shared with systemd/conduwuit.service (a test keeps them equal).
  hardening = {
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    DevicePolicy = "closed";
    LockPersonality = true;
    # Tested: the server and its extensions (pynacl, argon2-cffi, rocksdict,
    # uvloop) run with PR_SET_MDWE, the kernel's form of the same rule.
    MemoryDenyWriteExecute = true;
    NoNewPrivileges = true;
    PrivateDevices = true;
    PrivateTmp = true;
    PrivateUsers = true;
    ProtectClock = true;
    ProtectControlGroups = true;
    ProtectHome = true;
    ProtectHostname = true;
    ProtectKernelLogs = true;
    ProtectKernelModules = true;
    ProtectKernelTunables = true;
    ProtectProc = "invisible";
    ProtectSystem = "strict";
    RemoveIPC = true;
    RestrictAddressFamilies = [
      "AF_INET"
      "AF_INET6"
      "AF_UNIX"
    ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    SystemCallArchitectures = "native";
    SystemCallErrorNumber = "EPERM";
    # One string per line: separate list items would each add to the allowed set.
    # Not "~@ipc" as in the Rust server's module: uvloop's libuv calls pipe2()
    # when the event loop starts, and aborts if that fails.
    SystemCallFilter = [
      "@system-service @resources"
      "~@clock @debug @module @mount @reboot @swap @cpu-emulation @obsolete @timer @chown @setuid @privileged @keyring"
    ];
  };

  # Everything the module derives from its options.
  #   settings         services.conduwuit-py.settings (with nulls)
  #   exe              the server's executable (a store path in the module)
  #   configFile       where the TOML text ends up (the module: pkgs.writeText)
  #   extraEnvironment services.conduwuit-py.extraEnvironment
  #   user, group      services.conduwuit-py.{user,group}
  #   checkState       nixos/check-state.sh as an executable (the module: a store path)
  #   unitName         the systemd unit's name, for the credentials directory
  service =
    {
      settings,
      exe ? "conduwuit",
      configFile ? "/etc/${name}/conduwuit.toml",
      extraEnvironment ? { },
      user ? name,
      group ? name,
      checkState ? "check-state.sh",
      unitName ? name,
      credentialsDirectory ? "/run/credentials/${unitName}.service",
    }:
    let
      global = settings.global or { };
      tokenFile = global.registration_token_file or null;
      get = name: if global ? ${name} then global.${name} else null;
      final = filterNulls (
        settings
        // {
          global =
            global
            // {
              database_path = stateDirectory;
            }
            // (
              if tokenFile == null then
                { }
              else
                { registration_token_file = "${credentialsDirectory}/registration_token"; }
            );
        }
      );
      ports = if get "port" == null then [ 8008 ] else toList (get "port");
    in
    {
      settings = final;
      toml = toTOML final;
      inherit ports;
      # The file is found through CONDUWUIT_CONFIG, as nixpkgs' continuwuity module
      # does (CONTINUWUITY_CONFIG): `conduwuit check-config` in the unit's
      # environment sees the same file.
      environment = extraEnvironment // {
        CONDUWUIT_CONFIG = configFile;
        PYTHONUNBUFFERED = "1";
      };
      # At most 5 starts in 60 s, then systemd stops trying (a crash loop on an SD
      # card writes the journal and the database for nothing).
      unitConfig = {
        StartLimitBurst = 5;
        StartLimitIntervalSec = 60;
      };
      serviceConfig = hardening // {
        Type = "notify";
        NotifyAccess = "main";
        # "+": as root and outside the sandbox, to see the old state directories.
        ExecStartPre = "+${checkState} ${stateDirectory} ${concatStringsSep " " oldStateDirectories}";
        ExecStart = "${exe} serve";
        Restart = "on-failure";
        RestartSec = 5;
        # READY=1 comes after the database migrations, which on a Pi's SD card can
        # take minutes (nixpkgs' continuwuity module allows 10 minutes too).
        TimeoutStartSec = "10min";
        # The server lets in-flight requests finish for client_shutdown_timeout.
        TimeoutStopSec = 200;
        # With DynamicUser, a user or group of this name that exists (the module
        # creates both unless told otherwise) is used as is, so a reverse proxy
        # in the group can reach the unix socket in the RuntimeDirectory (0750).
        DynamicUser = true;
        User = user;
        Group = group;
        StateDirectory = name;
        StateDirectoryMode = "0700";
        RuntimeDirectory = name;
        RuntimeDirectoryMode = "0750";
        UMask = "0077";
        # Not in the generic unit's hardening block (systemd/conduwuit.service),
        # as in nixpkgs' continuwuity module: a private mount namespace and no
        # System V IPC or POSIX message queues shared with the host.
        PrivateMounts = true;
        PrivateIPC = true;
        # The token file is read by systemd as root and handed to the service:
        # it never enters the Nix store and needs no permissions for the dynamic user.
        LoadCredential = if tokenFile == null then [ ] else [ "registration_token:${tokenFile}" ];
      };
      assertions = [
        {
          assertion = !(get "unix_socket_path" != null && get "address" != null);
          message = "services.conduwuit-py: set either settings.global.unix_socket_path or settings.global.address, not both";
        }
        {
          assertion = !(get "registration_token" != null && tokenFile != null);
          message = "services.conduwuit-py: set either settings.global.registration_token or settings.global.registration_token_file, not both";
        }
        {
          assertion =
            !(
              get "allow_registration" == true
              && get "registration_token" == null
              && tokenFile == null
              && get "yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse" != true
            );
          message = "services.conduwuit-py: allow_registration needs settings.global.registration_token_file (or registration_token); an open server also needs yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse";
        }
        {
          assertion = !(tokenFile != null && match "/nix/store/.*" (toString tokenFile) != null);
          message = "services.conduwuit-py: settings.global.registration_token_file is in the Nix store, where every user can read it; give a path outside it (e.g. /run/secrets/...)";
        }
      ];
    };
in
{
  inherit
    filterNulls
    toTOML
    hardening
    service
    name
    stateDirectory
    oldStateDirectories
    ;
  # Messages of the assertions that fail, for tests.
  failures = s: map (a: a.message) (filter (a: !a.assertion) s.assertions);
  anyFailure = s: any (a: !a.assertion) s.assertions;
}
