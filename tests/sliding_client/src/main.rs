//! A matrix-rust-sdk client as Element X runs it: log in, discover Simplified
//! Sliding Sync from /versions, run the SDK's `SyncService` (the room-list and the
//! encryption sliding sync connections), load the room list, open (subscribe to) a
//! room, wait for a message that another user sends, and see its unread count.
//!
//! Usage: sliding-client <homeserver URL> <user> <password> <room ID> <message body>
//!
//! It prints one line per step (`VERSION`, `ROOMS n`, `READY unread=n`,
//! `MESSAGE body`, `UNREAD n`) so the test driving it knows when to send the
//! message; it exits non-zero with the reason on any failure or after 60 s.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use matrix_sdk::{
    ruma::{events::room::message::OriginalSyncRoomMessageEvent, RoomId},
    sliding_sync::{Version, VersionBuilder},
    Client,
};
use matrix_sdk_ui::{room_list_service::RoomListLoadingState, sync_service::SyncService};
use tokio::time::{sleep, timeout, Instant};

const STEP: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, homeserver, user, password, room_id, body] = args.as_slice() else {
        bail!("usage: sliding-client <homeserver> <user> <password> <room id> <message body>");
    };
    let room_id = RoomId::parse(room_id.as_str()).context("room id")?;
    timeout(STEP, run(homeserver, user, password, &room_id, body))
        .await
        .context("gave up after 60 s")?
}

async fn run(
    homeserver: &str,
    user: &str,
    password: &str,
    room_id: &RoomId,
    expected: &str,
) -> Result<()> {
    let started = Instant::now();
    let client = Client::builder()
        .homeserver_url(homeserver)
        .sliding_sync_version_builder(VersionBuilder::DiscoverNative)
        .build()
        .await
        .context("client (does /versions advertise org.matrix.simplified_msc3575?)")?;
    if !matches!(client.sliding_sync_version(), Version::Native) {
        bail!("sliding sync not discovered: {:?}", client.sliding_sync_version());
    }
    println!("VERSION native");
    client.matrix_auth().login_username(user, password).send().await.context("login")?;

    let (messages, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    client.add_event_handler(move |event: OriginalSyncRoomMessageEvent| {
        let messages = messages.clone();
        async move {
            let _ = messages.send(event.content.body().to_owned());
        }
    });

    let sync = SyncService::builder(client.clone()).build().await.context("sync service")?;
    let room_list = sync.room_list_service();
    sync.start().await;

    let all_rooms = room_list.all_rooms().await.context("all rooms")?;
    let mut loading = all_rooms.loading_state();
    loop {
        if let RoomListLoadingState::Loaded { maximum_number_of_rooms: Some(n) } = loading.get() {
            println!("ROOMS {n} in {} ms", started.elapsed().as_millis());
            break;
        }
        loading.next().await.context("room list loading state ended")?;
    }

    // Opening a room: Element X subscribes to it.
    room_list.subscribe_to_rooms(&[room_id]).await;
    let room = loop {
        if let Some(room) = client.get_room(room_id) {
            break room;
        }
        sleep(Duration::from_millis(50)).await;
    };
    let unread_before = room.num_unread_notifications();
    println!("READY unread={unread_before}");
    eprintln!("room opened after {} ms", started.elapsed().as_millis());

    loop {
        let body = received.recv().await.context("event handler channel closed")?;
        if body == expected {
            println!("MESSAGE {body}");
            eprintln!("message after {} ms", started.elapsed().as_millis());
            break;
        }
    }
    loop {
        let unread = room.num_unread_notifications();
        if unread > unread_before {
            println!("UNREAD {unread}");
            eprintln!("unread count after {} ms", started.elapsed().as_millis());
            break;
        }
        sleep(Duration::from_millis(50)).await;
    }
    sync.stop().await;
    eprintln!("stopped after {} ms", started.elapsed().as_millis());
    Ok(())
}
