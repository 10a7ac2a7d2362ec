"""The page a Pi without a configuration shows on port 80, to the local network only."""

from __future__ import annotations

import ipaddress
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"""<!doctype html><meta charset=utf-8><title>conduwuit: setup needed</title>
<h1>This Matrix server is not configured yet</h1>
<p>Turn the Raspberry Pi off, put its SD card in a laptop, and edit
<code>conduwuit.toml</code> on the small <b>FIRMWARE</b> partition
(a copy is in <code>conduwuit.toml.example</code>):</p>
<pre>
server_name = "matrix.example.org"   # your domain; cannot change later
registration_token = "a long secret"  # family members type it to create accounts
acme_email = "you@example.org"        # for the TLS certificate (Let's Encrypt)
ssh_authorized_keys = ["ssh-ed25519 AAAA... you@laptop"]  # optional: SSH as admin
</pre>
<p>Point the domain's DNS at this Pi, forward ports 80, 443 and 8448 to it,
put the card back and turn it on. The boot messages on a screen say whether the
file was accepted.</p>
"""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        address = ipaddress.ip_address(self.client_address[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not (address.is_private or address.is_loopback or address.is_link_local):
            self.send_error(403)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


class DualStackServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6  # "::" with IPV6_V6ONLY off also takes IPv4


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    DualStackServer(("::", port), Handler).serve_forever()
