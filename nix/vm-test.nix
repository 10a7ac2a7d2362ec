# NixOS VM test (flake check `vm`): boots the module, registers a user with a
# registration token given through LoadCredential, creates a room and sends a
# message. Written for pkgs.testers.runNixOSTest; not run on the project's
# machines (no nixpkgs there), see docs/deploying/nixos.md.
{ module }:
{
  name = "conduwuit";

  nodes.server =
    { pkgs, ... }:
    {
      imports = [ module ];
      services.conduwuit-py = {
        enable = true;
        settings.global = {
          server_name = "example.test";
          allow_registration = true;
          registration_token_file = "/etc/conduwuit-test-token";
          allow_federation = false;
        };
      };
      environment.etc."conduwuit-test-token".text = "family-token";
      environment.systemPackages = [ pkgs.curl pkgs.jq ];
    };

  testScript = ''
    import json

    server.wait_for_unit("conduwuit-py.service")  # Type=notify: READY=1 means listening
    server.wait_for_open_port(8008)
    print(server.succeed("curl -fsS http://127.0.0.1:8008/_matrix/client/versions"))

    def post(path, body, token=None):
        auth = f"-H 'Authorization: Bearer {token}'" if token else ""
        out = server.succeed(
            f"curl -sS -X POST {auth} -H 'Content-Type: application/json' "
            f"-d '{json.dumps(body)}' http://127.0.0.1:8008{path}"
        )
        return json.loads(out)

    # User-interactive auth: the first call returns the session, the second
    # completes the m.login.registration_token stage.
    first = post("/_matrix/client/v3/register", {"username": "alice", "password": "correct horse"})
    reply = post("/_matrix/client/v3/register", {
        "username": "alice", "password": "correct horse",
        "auth": {"type": "m.login.registration_token", "token": "family-token",
                 "session": first["session"]},
    })
    assert reply["user_id"] == "@alice:example.test", reply
    token = reply["access_token"]

    room = post("/_matrix/client/v3/createRoom", {"name": "family"}, token)["room_id"]
    sent = json.loads(server.succeed(
        f"curl -fsS -X PUT -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        f"-d '{{\"msgtype\": \"m.text\", \"body\": \"hello\"}}' "
        f"http://127.0.0.1:8008/_matrix/client/v3/rooms/{room}/send/m.room.message/t1"
    ))
    assert sent["event_id"].startswith("$"), sent

    # The hardening is in force and the database is in the state directory.
    props = server.succeed("systemctl show conduwuit-py -p DynamicUser -p ProtectSystem -p PrivateIPC -p User")
    assert "DynamicUser=yes" in props and "ProtectSystem=strict" in props, props
    assert "PrivateIPC=yes" in props and "User=conduwuit-py" in props, props
    server.succeed("test -f /var/lib/private/conduwuit-py/CURRENT")
    server.succeed("test -f /var/lib/private/conduwuit-py/.conduwuit-py")

    # A database in the old state directory: the service refuses to start until
    # it is moved or acknowledged (nixos/check-state.sh).
    server.succeed("systemctl stop conduwuit-py")
    server.succeed("rm /var/lib/private/conduwuit-py/.conduwuit-py")
    server.succeed("mkdir -p /var/lib/private/conduwuit && touch /var/lib/private/conduwuit/CURRENT")
    server.fail("systemctl start conduwuit-py")
    server.succeed("journalctl -u conduwuit-py | grep -q 'refusing to start'")
    server.fail("grep -r family-token /nix/store/*conduwuit.toml")
  '';
}
