// The homeserver check Element runs before its login form: matrix-js-sdk's
// AutoDiscovery validates the base URL (what .well-known/matrix/client would give)
// by reading /_matrix/client/versions, and refuses a server that lists none of the
// spec versions the SDK supports (v1.1 ... v1.9 for matrix-js-sdk 37).
//
//     node tests/js/discovery.mjs http://127.0.0.1:8008
//
// Driven by tests/e2e/test_jssdk.py. The report {ok, homeserver, error} is written to
// $JSSDK_REPORT and printed on stdout; exit code 0 only if the check passed.

import { writeFileSync } from "node:fs";

import { AutoDiscovery } from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";

const baseUrl = process.argv[2] ?? process.env.MATRIX_BASE_URL;
if (!baseUrl) {
    console.error("usage: node discovery.mjs BASE_URL");
    process.exit(2);
}
const { hostname } = new URL(baseUrl);
if (!["127.0.0.1", "localhost", "[::1]"].includes(hostname)) {
    console.error(`refusing a base URL off loopback: ${baseUrl}`);
    process.exit(2);
}
logger.setLevel(process.env.JSSDK_LOG ?? "silent");

const report = { ok: false, homeserver: null, error: null };
try {
    const config = await AutoDiscovery.fromDiscoveryConfig({ "m.homeserver": { base_url: baseUrl } });
    report.homeserver = config["m.homeserver"];
    report.ok = report.homeserver.state === AutoDiscovery.SUCCESS;
} catch (error) {
    report.error = String(error?.stack ?? error);
}
if (process.env.JSSDK_REPORT) writeFileSync(process.env.JSSDK_REPORT, JSON.stringify(report, null, 2));
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
