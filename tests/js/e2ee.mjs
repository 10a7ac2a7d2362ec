// matrix-js-sdk (the client library of Element, with its Rust crypto in wasm) against a
// real server: two users register and log in, each client finishes its initial sync
// (PREPARED, then SYNCING), Alice creates an encrypted room and invites Bob, Bob joins,
// Alice sends a message that Bob's client decrypts, and Bob's encrypted reply is
// decrypted by Alice's client.
//
//     node tests/js/e2ee.mjs http://127.0.0.1:8008
//
// Driven by tests/e2e/test_jssdk.py. Every request goes through one fetch wrapper that
// refuses anything but loopback (the wasm ships in the npm package: nothing is
// downloaded at run time) and records every non-2xx answer. The outcome is a JSON report
// {ok, steps, failed_requests, requests, error}, written to the file named by
// $JSSDK_REPORT and printed as the last line on stdout (where the Rust crypto also
// logs). Exit code 0 only if all went well.
// JSSDK_LOG=debug shows the SDK's own log on stderr.

import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";

import { ClientEvent, EventType, MatrixError, Preset, SyncState, createClient } from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";

const baseUrl = process.argv[2] ?? process.env.MATRIX_BASE_URL;
if (!baseUrl) {
    console.error("usage: node e2ee.mjs BASE_URL");
    process.exit(2);
}
const TIMEOUT_MS = Number(process.env.JSSDK_STEP_TIMEOUT_MS ?? 30000);
logger.setLevel(process.env.JSSDK_LOG ?? "silent");

const report = { ok: false, steps: [], failed_requests: [], requests: 0, error: null };
const started = Date.now();

function step(name) {
    report.steps.push({ name, ms: Date.now() - started });
    console.error(`[jssdk +${Date.now() - started}ms] ${name}`);
}

/** fetch for the SDK: loopback only, and every non-2xx answer is recorded. */
async function loopbackFetch(input, init) {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
        throw new Error(`refused a request off loopback: ${url}`);
    }
    report.requests += 1;
    const response = await fetch(input, init);
    if (!response.ok) {
        let body = await response.clone().text();
        if (body.length > 300) body = `${body.slice(0, 300)}...`;
        report.failed_requests.push({
            method: init?.method ?? "GET",
            path: url.pathname,
            status: response.status,
            body,
        });
    }
    return response;
}

async function waitFor(what, condition, timeoutMs = TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await condition();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

async function withTimeout(promise, what, timeoutMs = TIMEOUT_MS) {
    let timer;
    const timeout = new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what()}`)), timeoutMs);
    });
    try {
        return await Promise.race([promise, timeout]);
    } finally {
        clearTimeout(timer);
    }
}

/** Register with the dummy stage of user-interactive auth, as a client does. */
async function register(username, password) {
    const anonymous = createClient({ baseUrl, fetchFn: loopbackFetch });
    const request = { username, password, inhibit_login: true };
    try {
        await anonymous.registerRequest(request);
    } catch (error) {
        if (!(error instanceof MatrixError) || error.httpStatus !== 401) throw error;
        const session = error.data.session;
        await anonymous.registerRequest({ ...request, auth: { type: "m.login.dummy", session } });
    }
}

/** Log in with a password, start Rust crypto and sync until the client is SYNCING. */
async function login(username, password, deviceName) {
    const anonymous = createClient({ baseUrl, fetchFn: loopbackFetch });
    const session = await anonymous.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: username },
        password,
        initial_device_display_name: deviceName,
    });
    const client = createClient({
        baseUrl,
        fetchFn: loopbackFetch,
        userId: session.user_id,
        deviceId: session.device_id,
        accessToken: session.access_token,
    });
    await client.initRustCrypto({ useIndexedDB: false });
    const states = [];
    const syncing = new Promise((resolve, reject) => {
        client.on(ClientEvent.Sync, (state, _previous, data) => {
            states.push(state);
            if (state === SyncState.Error) reject(new Error(`sync failed: ${data?.error}`));
            if (state === SyncState.Syncing && states.includes(SyncState.Prepared)) resolve();
        });
    });
    await client.startClient({ initialSyncLimit: 20, lazyLoadMembers: true });
    await withTimeout(syncing, () => `${username}'s client to reach SYNCING (states so far: ${states})`);
    return client;
}

/** The event with this id in the room's live timeline, once the client has it. */
function timelineEvent(client, roomId, eventId) {
    return client
        .getRoom(roomId)
        ?.getLiveTimeline()
        .getEvents()
        .find((event) => event.getId() === eventId);
}

/** Wait until this client has decrypted the event; its cleartext content. */
async function decrypted(client, roomId, eventId) {
    const who = client.getUserId();
    const event = await waitFor(`${who} to receive ${eventId}`, () => timelineEvent(client, roomId, eventId));
    await waitFor(`${who} to decrypt ${eventId}`, () => !event.isBeingDecrypted() && !event.isDecryptionFailure());
    if (event.getWireType() !== EventType.RoomMessageEncrypted) {
        throw new Error(`${eventId} came over the wire as ${event.getWireType()}, not encrypted`);
    }
    return event.getContent();
}

async function main() {
    const suffix = randomBytes(4).toString("hex");
    const password = `pw-${randomBytes(12).toString("hex")}`;
    const aliceName = `alice-${suffix}`;
    const bobName = `bob-${suffix}`;
    await register(aliceName, password);
    await register(bobName, password);
    step("registered alice and bob");

    const alice = await login(aliceName, password, "alice's js-sdk");
    step("alice logged in, initial sync done (PREPARED, SYNCING)");
    const bob = await login(bobName, password, "bob's js-sdk");
    step("bob logged in, initial sync done (PREPARED, SYNCING)");
    try {
        const { room_id: roomId } = await alice.createRoom({
            preset: Preset.PrivateChat,
            name: "js-sdk e2ee",
            invite: [bob.getUserId()],
            initial_state: [
                { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
            ],
        });
        await waitFor("alice's client to see the room as encrypted", () =>
            alice.getCrypto().isEncryptionEnabledInRoom(roomId),
        );
        step(`alice created encrypted room ${roomId} and invited bob`);

        await waitFor("bob's client to see the invite", () => bob.getRoom(roomId)?.getMyMembership() === "invite");
        await bob.joinRoom(roomId);
        await waitFor(
            "alice's client to see bob joined",
            () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === "join",
        );
        step("bob joined");

        const hello = `hello bob, this is encrypted (${suffix})`;
        const { event_id: helloId } = await alice.sendEvent(roomId, EventType.RoomMessage, {
            msgtype: "m.text",
            body: hello,
        });
        step(`alice sent ${helloId}`);
        const helloContent = await decrypted(bob, roomId, helloId);
        if (helloContent.body !== hello) throw new Error(`bob decrypted ${JSON.stringify(helloContent)}`);
        step("bob decrypted alice's message");

        const reply = `hi alice, bob here (${suffix})`;
        const { event_id: replyId } = await bob.sendEvent(roomId, EventType.RoomMessage, {
            msgtype: "m.text",
            body: reply,
        });
        const replyContent = await decrypted(alice, roomId, replyId);
        if (replyContent.body !== reply) throw new Error(`alice decrypted ${JSON.stringify(replyContent)}`);
        step("alice decrypted bob's reply");
        report.ok = true;
    } finally {
        alice.stopClient();
        bob.stopClient();
    }
}

try {
    await main();
} catch (error) {
    report.error = String(error?.stack ?? error);
    console.error(report.error);
}
if (process.env.JSSDK_REPORT) writeFileSync(process.env.JSSDK_REPORT, JSON.stringify(report, null, 2));
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
