"use strict";
// The browser client of the chat. It talks to the server in two ways:
//
// - plain HTTP (fetch) for the things that are asked for once: a token, the list of rooms and
//   pages of history;
// - one WebSocket for everything live: messages, acknowledgements, presence and typing.
//
// A session goes like this: log in over HTTP and keep the token in sessionStorage; show the
// newest page of the current room's history; open the socket and send the token as its first
// frame; when the server answers "welcome", join the room, saying which message we saw last so
// that the server replays whatever came in between. When the socket drops, wait a little
// (longer each time), connect again and do the same, resending the messages that were never
// acknowledged. Their client_id lets the server recognise a resend and not store it twice.
// Messages are placed by their id, which counts up in each room without holes: a hole that stays
// open means a message was lost on the way, and it is fetched from the history.
//
// Every frame is a JSON object with "v": 1 (the protocol's version) and a "type".

// ---------------------------------------------------------------------------------------------
// Constants

const DEFAULT_ROOMS = ["general", "random", "rust"];
// The server accepts these room names and no others; checking here gives a quicker answer.
const ROOM_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const PAGE_SIZE = 50;
// The server drops typing frames sent more often than this; sending fewer saves both sides work.
const TYPING_SEND_EVERY_MS = 2000;
// How long "ada is typing…" stays without a new typing frame from ada.
const TYPING_SHOW_MS = 3000;
// Waiting time before resending a message the server was too busy to take, when it names none.
const RETRY_DEFAULT_MS = 1000;
// Reconnection: the first wait is about half a second, each failure doubles it, up to 10 s.
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;
// A message more than one id past the last one seen leaves a gap. Between two instances a message
// can overtake the one before it, so a gap is given this long to fill before we fetch it.
const GAP_WAIT_MS = 1000;
// The most messages the history endpoint gives at once; a larger gap reloads the newest page.
const PAGE_SIZE_MAX = 100;

// sessionStorage belongs to one tab and one origin (scheme, host and port), so two servers on
// two ports, or two tabs logged in as two people, never see each other's token. localStorage
// would be shared by every tab, and a cookie would be sent with every request, WebSocket
// handshakes included, which is what cross-site WebSocket hijacking relies on.
const STORE = { token: "chat.token", expires: "chat.expires", user: "chat.user", room: "chat.room" };

// The socket's close codes that mean something to us (4000–4999 are for applications).
const CLOSE_NOT_AUTHENTICATED = 4401;
const CLOSE_REASONS = {
  4408: "the connection was too slow",
  1009: "a frame was too big for the server",
  1001: "the server is going away",
};

// ---------------------------------------------------------------------------------------------
// The page's elements and the client's state

const $ = (id) => document.getElementById(id);
const el = {
  loginView: $("login-view"),
  loginForm: $("login-form"),
  username: $("username"),
  password: $("password"),
  login: $("login"),
  loginError: $("login-error"),
  chatView: $("chat-view"),
  status: $("status"),
  whoami: $("whoami"),
  logout: $("logout"),
  rooms: $("rooms"),
  joinForm: $("join-form"),
  joinRoom: $("join-room"),
  members: $("members"),
  roomTitle: $("room-title"),
  older: $("older"),
  messages: $("messages"),
  typing: $("typing"),
  compose: $("compose"),
  body: $("body"),
  notice: $("notice"),
};

const state = {
  token: null,
  expiresAt: Infinity,
  user: null,
  room: "general", // the room on screen
  rooms: new Set(DEFAULT_ROOMS), // the names in the sidebar
  socket: null, // the current WebSocket; events from an older one are ignored
  welcomed: false, // the server accepted our token on the current socket
  everWelcomed: false, // some socket of this session was accepted (so the next one is a reconnect)
  joined: new Set(), // rooms the server has confirmed with "joined" on the current socket
  latest: new Map(), // room → the highest message id seen, sent as "after" when joining again
  pending: new Map(), // client_id → { clientId, room, body, sentAt, retryTimer }: not acknowledged yet
  view: 0, // counts room switches, so that a late HTTP answer for a room left since is dropped
  history: Promise.resolve(false), // settles once the room on screen shows its newest page
  next: null, // the link to the page of older messages, or null at the start of the room
  members: new Set(), // who is in the room on screen
  typing: new Map(), // user → the timer that takes them off the "typing" line
  lastTypingSent: 0,
  attempt: 0, // failed connections since the last welcome; sets the backoff
  reconnectTimer: null,
  countdownTimer: null,
  noticeTimer: null,
};

// Thrown by api() when the server no longer accepts the token; endSession() has already run, so
// callers just stop.
class SessionEnded extends Error {}

// ---------------------------------------------------------------------------------------------
// Small helpers

function setStatus(text, kind) {
  el.status.textContent = text;
  el.status.dataset.kind = kind; // "ok", "wait" or "off", for the coloured dot
}

function notice(text) {
  el.notice.textContent = text;
  clearTimeout(state.noticeTimer);
  state.noticeTimer = setTimeout(() => { el.notice.textContent = ""; }, 8000);
}

// The text to show for a failed HTTP request. Errors are RFC 9457 problem details ("title",
// "detail"); the token endpoint follows OAuth 2.0 instead ("error", "error_description").
function problemText(response, body) {
  return body?.detail || body?.error_description || body?.title || body?.error
    || `${response.status} ${response.statusText}`.trim();
}

// crypto.randomUUID exists only in secure contexts (https, or http on localhost). On plain http
// to another host, build the same kind of random (version 4) UUID from getRandomValues.
function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// "14:05" in the reader's time zone. The server sends UTC (RFC 3339); Date converts it.
function clock(date) {
  if (Number.isNaN(date.getTime())) return "";
  const two = (n) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}`;
}

function noteLatest(room, id) {
  if (!(state.latest.get(room) >= id)) state.latest.set(room, id);
}

// ---------------------------------------------------------------------------------------------
// HTTP

// GET a JSON resource of our own server with the token. The token goes in the Authorization
// header, never in the address, where it would end up in logs and the browser's history.
async function api(path) {
  // The token must only ever go to the server that issued it. CSP's connect-src 'self' blocks
  // other origins too; this check says so in the code.
  if (new URL(path, location.href).origin !== location.origin) {
    throw new Error(`refusing to send the token to ${path}`);
  }
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" },
  });
  if (response.status === 401) {
    endSession("Your session has ended. Please log in again.");
    throw new SessionEnded();
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(problemText(response, body));
  return body;
}

async function logIn(event) {
  event.preventDefault(); // the form is handled here, not submitted by the browser
  el.loginError.textContent = "";
  el.login.disabled = true;
  try {
    // The OAuth 2.0 password grant: a form-encoded body, which URLSearchParams produces (fetch
    // sets the matching Content-Type itself).
    const response = await fetch("/auth/token", {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "password",
        username: el.username.value,
        password: el.password.value,
      }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok || !body?.access_token) {
      el.loginError.textContent = problemText(response, body);
      return;
    }
    el.password.value = "";
    const expiresAt = body.expires_in ? Date.now() + body.expires_in * 1000 : Infinity;
    sessionStorage.setItem(STORE.token, body.access_token);
    sessionStorage.setItem(STORE.expires, String(expiresAt));
    sessionStorage.setItem(STORE.user, el.username.value);
    startSession(body.access_token, expiresAt, el.username.value);
  } catch (err) {
    el.loginError.textContent = `Could not reach the server: ${err.message}`;
  } finally {
    el.login.disabled = false;
  }
}

// The rooms that have messages or members, added to the ones always offered.
async function loadRooms() {
  try {
    const rooms = await api("/rooms");
    for (const room of rooms) if (ROOM_NAME.test(room.name)) state.rooms.add(room.name);
    renderRooms();
  } catch (err) {
    if (!(err instanceof SessionEnded)) notice(`Could not load the rooms: ${err.message}`);
  }
}

// Fetch the newest page of a room's history and show it. Resolves to true when it was shown:
// only then do we know which messages we have, and so what to ask the server to replay.
async function loadNewestPage(room, view) {
  try {
    const page = await api(`/rooms/${encodeURIComponent(room)}/messages?limit=${PAGE_SIZE}`);
    if (view !== state.view) return false; // the user has moved to another room meanwhile
    showNewestPage(room, page);
    return true;
  } catch (err) {
    if (!(err instanceof SessionEnded)) notice(`Could not load the history of #${room}: ${err.message}`);
    return false;
  }
}

// The "next" link of a page points at the page before it; the server builds it, so the client
// never works out a cursor itself.
async function loadOlder() {
  const { next, view, room } = state;
  if (!next) return;
  el.older.disabled = true;
  try {
    const page = await api(next);
    if (view !== state.view) return;
    // Adding above the visible messages would push them down; keep the distance to the bottom
    // of the list so that what the reader was looking at stays put.
    const fromBottom = el.messages.scrollHeight - el.messages.scrollTop;
    showMany(() => page.messages.forEach((m) => showMessage({ room, ...m })));
    el.messages.scrollTop = el.messages.scrollHeight - fromBottom;
    state.next = page.next;
  } catch (err) {
    if (!(err instanceof SessionEnded)) notice(`Could not load older messages: ${err.message}`);
  } finally {
    el.older.disabled = false;
    el.older.hidden = !state.next;
  }
}

// ---------------------------------------------------------------------------------------------
// The WebSocket

function send(frame) {
  if (state.socket?.readyState !== WebSocket.OPEN) return false;
  state.socket.send(JSON.stringify({ v: 1, ...frame }));
  return true;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  clearInterval(state.countdownTimer);
  state.reconnectTimer = null;
  setStatus("connecting…", "wait");
  // Same host and port as the page; wss when the page came over https, or the browser refuses.
  const url = new URL("/ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(url);
  state.socket = socket;
  state.welcomed = false;
  state.joined.clear();

  // The token goes in the first frame rather than in the URL: URLs are written to access logs,
  // and browsers cannot set an Authorization header on a WebSocket handshake.
  socket.addEventListener("open", () => send({ type: "auth", token: state.token }));
  socket.addEventListener("message", (event) => {
    if (socket === state.socket) onFrame(event.data);
  });
  // A failed connection fires "error" and then "close"; "close" alone is enough to act on.
  socket.addEventListener("close", (event) => {
    if (socket === state.socket) onClose(event);
  });
}

function onClose(event) {
  state.socket = null;
  state.welcomed = false;
  state.joined.clear();
  delete el.messages.dataset.joined;
  clearTyping();
  if (event.code === CLOSE_NOT_AUTHENTICATED) {
    // Reconnecting with the same token would be refused again: ask for a new one.
    endSession(
      Date.now() >= state.expiresAt - 1000
        ? "Your session has expired. Please log in again."
        : "The server did not accept your session. Please log in again.",
    );
    return;
  }
  scheduleReconnect(CLOSE_REASONS[event.code] || "disconnected");
}

// Wait before reconnecting, twice as long after each failure. The random part ("jitter") keeps
// the clients of a restarted server from all coming back in the same instant.
function scheduleReconnect(reason) {
  if (Date.now() >= state.expiresAt) {
    endSession("Your session has expired. Please log in again.");
    return;
  }
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** state.attempt);
  const delay = ceiling / 2 + Math.random() * (ceiling / 2);
  state.attempt += 1;
  const due = Date.now() + delay;
  const countdown = () => {
    const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
    setStatus(`${reason}; reconnecting in ${seconds} s…`, "off");
  };
  countdown();
  state.countdownTimer = setInterval(countdown, 1000);
  state.reconnectTimer = setTimeout(connect, delay);
}

// When the computer comes back online there is no point in waiting out the backoff.
window.addEventListener("online", () => {
  if (state.reconnectTimer) connect();
});

function onFrame(data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    console.warn("ignoring a frame that is not JSON:", data);
    return;
  }
  // A later version of the protocol may change what a type means: don't guess.
  if (frame?.v !== 1) {
    console.warn("ignoring a frame of another protocol version:", frame);
    return;
  }
  const handler = frameHandlers[frame.type];
  if (handler) handler(frame);
  else console.warn("ignoring a frame of unknown type:", frame.type);
}

const frameHandlers = {
  // The server accepted the token. heartbeat_seconds and timeout_seconds describe the server's
  // pings; the browser answers them by itself and JavaScript never sees them. expires_in is when
  // the token expires, by the server's clock: it closes the socket then (4401).
  welcome(frame) {
    if (frame.expires_in >= 0) state.expiresAt = Math.min(state.expiresAt, Date.now() + frame.expires_in * 1000);
    state.user = frame.user;
    sessionStorage.setItem(STORE.user, frame.user);
    el.whoami.textContent = frame.user;
    state.welcomed = true;
    state.attempt = 0;
    setStatus(`connected as ${frame.user}`, "ok");
    // After a reconnect rooms may have appeared; the first time, startSession fetched them.
    if (state.everWelcomed) loadRooms();
    state.everWelcomed = true;
    joinCurrentRoom();
  },

  joined(frame) {
    state.joined.add(frame.room);
    if (frame.room !== state.room) {
      // A join sent just before the user moved on: we don't want that room any more.
      send({ type: "leave", room: frame.room });
      return;
    }
    el.messages.dataset.joined = frame.room;
    state.members = new Set(frame.members || []);
    renderMembers();
    // Messages written while disconnected, or whose ack was lost with the old socket, go again
    // now, with the same client_id, so the server can tell a resend from a new message.
    for (const record of state.pending.values()) {
      if (record.room === frame.room) sendPending(record);
    }
  },

  left(frame) {
    state.joined.delete(frame.room);
  },

  message(frame) {
    const seen = state.latest.get(frame.room);
    showMessage(frame);
    if (seen !== undefined && frame.id > seen + 1) setTimeout(() => fillGap(frame.room, seen, frame.id), GAP_WAIT_MS);
  },

  // Our message is stored and has its id. A duplicate ack means an earlier copy was stored
  // (we resent after a reconnect); the id is that copy's, so the result is the same.
  ack(frame) {
    noteLatest(frame.room, frame.id);
    const record = state.pending.get(frame.client_id);
    if (!record) return; // the "message" frame arrived first and settled it
    settlePending(record, { room: record.room, id: frame.id, user: state.user, body: record.body });
  },

  presence(frame) {
    if (frame.room !== state.room) return;
    if (frame.online) state.members.add(frame.user);
    else {
      state.members.delete(frame.user);
      stopTyping(frame.user);
    }
    renderMembers();
  },

  typing(frame) {
    if (frame.room !== state.room || frame.user === state.user) return;
    clearTimeout(state.typing.get(frame.user));
    state.typing.set(frame.user, setTimeout(() => stopTyping(frame.user), TYPING_SHOW_MS));
    renderTyping();
  },

  // We missed too many messages for a replay. The server has joined us anyway and live messages
  // keep coming, so only the history needs fetching again.
  reload(frame) {
    if (frame.room !== state.room) return;
    state.history = loadNewestPage(frame.room, state.view);
  },

  error(frame) {
    const record = frame.client_id && state.pending.get(frame.client_id);
    if (!record) {
      notice(`The server said: ${frame.detail || frame.code}`);
      return;
    }
    if (frame.code === "busy" || frame.code === "rate_limited") {
      // Not refused, just not now: keep the message pending and try again later.
      const wait = frame.retry_after_ms ?? RETRY_DEFAULT_MS;
      clearTimeout(record.retryTimer);
      record.retryTimer = setTimeout(() => {
        record.retryTimer = null;
        sendPending(record);
      }, wait);
    } else if (frame.code === "not_joined") {
      // The server has lost our membership (we thought we were in). Join again; "joined" then
      // resends the pending messages. Forgetting the room first means this happens only once.
      if (state.joined.delete(record.room) && record.room === state.room) joinCurrentRoom();
    } else {
      // "malformed" or "invalid": the same frame would be refused again, so stop trying.
      failPending(record, frame.detail || frame.code);
    }
  },
};

// Join the room on screen, once its newest page is shown, with "after" = the newest id we have:
// the server replays what came after it, so nothing is lost between the HTTP page and the
// live messages.
async function joinCurrentRoom() {
  const { room, view, socket } = state;
  const shown = await state.history;
  // While we waited the user may have switched rooms or the socket may have closed; then the
  // code that switched, or the next welcome, does the join.
  if (view !== state.view || socket !== state.socket || !state.welcomed) return;
  const frame = { type: "join", room };
  // A room that was empty when we loaded it: ask for everything after 0, in case a message came
  // in before our join. If the page could not be loaded, join without "after" and show what
  // comes live.
  const after = state.latest.get(room) ?? (shown ? 0 : undefined);
  if (after !== undefined) frame.after = after;
  send(frame);
}

// ---------------------------------------------------------------------------------------------
// Sending

function sendPending(record) {
  if (record.retryTimer) return; // waiting out a rate limit; the timer sends it
  if (!state.welcomed || !state.joined.has(record.room)) return; // the next "joined" sends it
  send({ type: "send", room: record.room, client_id: record.clientId, body: record.body });
}

function submitMessage(event) {
  event.preventDefault();
  const body = el.body.value.trim();
  if (!body) return;
  // The id is made here, once, and kept with the message until the server acknowledges it.
  const record = { clientId: newClientId(), room: state.room, body, sentAt: new Date(), retryTimer: null };
  state.pending.set(record.clientId, record);
  el.messages.append(pendingElement(record));
  scrollToBottom();
  el.body.value = "";
  // The others stop showing us as typing when our message arrives, so the next key pressed
  // should announce it again straight away.
  state.lastTypingSent = 0;
  sendPending(record);
}

// Our message is stored: turn its grey copy into a normal one, in place.
function settlePending(record, message) {
  clearTimeout(record.retryTimer);
  state.pending.delete(record.clientId);
  if (record.room !== state.room) return;
  const item = findPendingElement(record.clientId);
  if (!item) return;
  if (findMessageElement(message.id)) {
    item.remove(); // the server's copy is already on screen
    return;
  }
  item.classList.remove("pending");
  item.removeAttribute("data-client-id");
  item.dataset.id = message.id;
  item.querySelector(".state")?.remove();
  if (message.sent_at) fillTime(item.querySelector("time"), new Date(message.sent_at));
  placeById(item, message.id); // someone else's message may have been stored after it
}

function failPending(record, reason) {
  clearTimeout(record.retryTimer);
  state.pending.delete(record.clientId);
  const item = findPendingElement(record.clientId);
  if (!item) return;
  item.classList.replace("pending", "failed");
  item.removeAttribute("data-client-id");
  item.querySelector(".state").textContent = `not sent: ${reason}`;
}

// Tell the others we are typing, at most once every 2 s however fast the keys go.
function onTyping() {
  if (!el.body.value || !state.joined.has(state.room)) return;
  const now = Date.now();
  if (now - state.lastTypingSent < TYPING_SEND_EVERY_MS) return;
  state.lastTypingSent = now;
  send({ type: "typing", room: state.room });
}

// ---------------------------------------------------------------------------------------------
// Showing messages. The list is kept sorted by id, with our pending messages (no id yet) at the
// end. Ids may arrive out of order (two server instances can deliver neighbours swapped) and
// more than once (history page, replay, live), so each message is placed by id and an id already
// on screen is skipped.

function findMessageElement(id) {
  return el.messages.querySelector(`li[data-id="${Number(id)}"]`);
}

function findPendingElement(clientId) {
  return el.messages.querySelector(`li[data-client-id="${CSS.escape(clientId)}"]`);
}

function fillTime(time, date) {
  time.dateTime = Number.isNaN(date.getTime()) ? "" : date.toISOString();
  time.title = date.toLocaleString();
  time.textContent = clock(date);
}

// One <li>. Everything the users wrote goes in through textContent, which the browser shows as
// text and never parses as HTML, so a message cannot inject markup or script.
function messageElement(user, body, date) {
  const item = document.createElement("li");
  item.dataset.user = user;
  if (user === state.user) item.classList.add("mine");
  const meta = document.createElement("div");
  meta.className = "meta";
  const who = document.createElement("span");
  who.className = "user";
  who.textContent = user;
  const time = document.createElement("time");
  fillTime(time, date);
  meta.append(who, " ", time);
  const text = document.createElement("div");
  text.className = "text";
  text.textContent = body;
  item.append(meta, text);
  return item;
}

function pendingElement(record) {
  const item = messageElement(state.user, record.body, record.sentAt);
  item.classList.add("pending");
  item.dataset.clientId = record.clientId;
  const note = document.createElement("span");
  note.className = "state";
  note.textContent = "sending…";
  item.querySelector(".meta").append(" ", note);
  return item;
}

// Insert before the first message with a bigger id, or before the pending ones. Walking from the
// end is quick because new messages almost always belong there.
function placeById(item, id) {
  let before = null;
  for (let node = el.messages.lastElementChild; node; node = node.previousElementSibling) {
    if (node === item) continue;
    if (!node.dataset.id || Number(node.dataset.id) > id) before = node;
    else break;
  }
  el.messages.insertBefore(item, before);
}

// Ids in a room have no holes, so one that is missing was lost on its way here: Redis pub/sub,
// which carries messages between instances, delivers at most once. Fetch what is still missing
// between `seen` and `id` over HTTP, from the database, which has every message.
async function fillGap(room, seen, id) {
  const { view } = state;
  if (room !== state.room) return;
  const size = id - seen - 1;
  if (size > PAGE_SIZE_MAX) {
    state.history = loadNewestPage(room, view);
    return;
  }
  let open = false;
  for (let gap = seen + 1; gap < id && !open; gap++) open = !findMessageElement(gap);
  if (!open) return; // the missing ones were only late
  try {
    const page = await api(`/rooms/${encodeURIComponent(room)}/messages?before=${id}&limit=${size}`);
    if (view !== state.view) return;
    showMany(() => page.messages.forEach((m) => showMessage({ room, ...m })));
  } catch (err) {
    if (!(err instanceof SessionEnded)) notice(`Could not load missed messages of #${room}: ${err.message}`);
  }
}

function showMessage(message) {
  noteLatest(message.room, message.id);
  if (message.room !== state.room) return; // sent just before we left that room
  stopTyping(message.user); // they have finished typing this one
  const record = message.user === state.user && message.client_id && state.pending.get(message.client_id);
  if (record) {
    // Our own message, back from the server before its ack: that settles it just as well.
    settlePending(record, message);
    return;
  }
  if (findMessageElement(message.id)) return;
  const stick = nearBottom();
  const item = messageElement(message.user, message.body, new Date(message.sent_at));
  item.dataset.id = message.id;
  placeById(item, message.id);
  if (stick) scrollToBottom();
}

// Show the newest page of the room on screen. For the first page the list is empty; after a
// "reload" it holds older messages with a gap after them, which are dropped, and maybe live
// messages newer than the page, which stay.
function showNewestPage(room, page) {
  const first = page.messages[0]?.id;
  if (first !== undefined) {
    for (const item of [...el.messages.querySelectorAll("li[data-id]")]) {
      if (Number(item.dataset.id) < first) item.remove();
    }
  }
  showMany(() => page.messages.forEach((m) => showMessage({ room, ...m })));
  state.next = page.next;
  el.older.hidden = !state.next;
  scrollToBottom();
}

// aria-busy asks screen readers to wait until a batch is in, instead of reading out fifty
// messages of history one by one as if they were new.
function showMany(add) {
  el.messages.setAttribute("aria-busy", "true");
  try {
    add();
  } finally {
    el.messages.removeAttribute("aria-busy");
  }
}

function nearBottom() {
  const list = el.messages;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

function scrollToBottom() {
  el.messages.scrollTop = el.messages.scrollHeight;
}

// ---------------------------------------------------------------------------------------------
// Typing, members and rooms

const listFormat = new Intl.ListFormat("en", { style: "long", type: "conjunction" });

function renderTyping() {
  const users = [...state.typing.keys()];
  el.typing.textContent = users.length
    ? `${listFormat.format(users)} ${users.length === 1 ? "is" : "are"} typing…`
    : "";
}

function stopTyping(user) {
  if (!state.typing.has(user)) return;
  clearTimeout(state.typing.get(user));
  state.typing.delete(user);
  renderTyping();
}

function clearTyping() {
  for (const timer of state.typing.values()) clearTimeout(timer);
  state.typing.clear();
  renderTyping();
}

function renderMembers() {
  const items = [...state.members].sort().map((user) => {
    const item = document.createElement("li");
    item.textContent = user === state.user ? `${user} (you)` : user;
    return item;
  });
  el.members.replaceChildren(...items);
}

// The default rooms first, in their order, then the others alphabetically.
function renderRooms() {
  const others = [...state.rooms].filter((r) => !DEFAULT_ROOMS.includes(r)).sort();
  const items = [...DEFAULT_ROOMS, ...others].map((room) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.room = room;
    button.textContent = `#${room}`;
    if (room === state.room) button.setAttribute("aria-current", "true");
    const item = document.createElement("li");
    item.append(button);
    return item;
  });
  el.rooms.replaceChildren(...items);
}

// Empty the message area and start loading the room's newest page.
function showRoom(room) {
  state.view += 1;
  state.next = null;
  state.members.clear();
  state.lastTypingSent = 0;
  clearTyping();
  renderMembers();
  el.older.hidden = true;
  el.roomTitle.textContent = `#${room}`;
  document.title = `#${room} – Chat`;
  delete el.messages.dataset.joined;
  el.messages.replaceChildren();
  // Our messages still waiting for an ack in this room go back at the end.
  for (const record of state.pending.values()) {
    if (record.room === room) el.messages.append(pendingElement(record));
  }
  state.history = loadNewestPage(room, state.view);
}

function switchRoom(room) {
  if (room === state.room) return;
  // Leaving tells the server to stop sending us the old room's messages and tells its members
  // we have gone.
  if (state.joined.delete(state.room)) send({ type: "leave", room: state.room });
  state.room = room;
  sessionStorage.setItem(STORE.room, room);
  state.rooms.add(room);
  renderRooms();
  showRoom(room);
  joinCurrentRoom();
  el.body.focus();
}

function submitJoin(event) {
  event.preventDefault();
  const room = el.joinRoom.value.trim();
  if (!ROOM_NAME.test(room)) {
    notice("A room name is 1 to 32 lowercase letters, digits or dashes, not starting with a dash.");
    return;
  }
  el.joinRoom.value = "";
  switchRoom(room);
}

// ---------------------------------------------------------------------------------------------
// Starting and ending a session

function startSession(token, expiresAt, user) {
  state.token = token;
  state.expiresAt = expiresAt;
  state.user = user;
  state.room = sessionStorage.getItem(STORE.room) || "general";
  el.whoami.textContent = user;
  el.loginView.hidden = true;
  el.chatView.hidden = false;
  el.logout.hidden = false;
  renderRooms();
  loadRooms();
  showRoom(state.room); // the history is fetched while the socket connects
  connect();
  el.body.focus();
}

function endSession(message) {
  sessionStorage.clear();
  // Forget the socket before closing it, so that its close event does not start a reconnect.
  const socket = state.socket;
  state.socket = null;
  socket?.close(1000, "logged out");
  clearTimeout(state.reconnectTimer);
  clearInterval(state.countdownTimer);
  state.reconnectTimer = null;
  for (const record of state.pending.values()) clearTimeout(record.retryTimer);
  clearTyping();
  Object.assign(state, {
    token: null, user: null, expiresAt: Infinity, welcomed: false, everWelcomed: false, attempt: 0,
  });
  state.view += 1; // drops any HTTP answer still on its way
  state.pending.clear();
  state.latest.clear();
  state.joined.clear();
  state.rooms = new Set(DEFAULT_ROOMS);
  el.messages.replaceChildren();
  el.whoami.textContent = "";
  el.chatView.hidden = true;
  el.logout.hidden = true;
  el.loginView.hidden = false;
  el.loginError.textContent = message || "";
  setStatus("not logged in", "off");
  el.username.focus();
}

function boot() {
  el.loginForm.addEventListener("submit", logIn);
  el.logout.addEventListener("click", () => endSession());
  el.compose.addEventListener("submit", submitMessage); // Enter in the input submits the form
  el.body.addEventListener("input", onTyping);
  el.joinForm.addEventListener("submit", submitJoin);
  el.older.addEventListener("click", loadOlder);
  // One listener for all the room buttons, including those added later.
  el.rooms.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-room]");
    if (button) switchRoom(button.dataset.room);
  });

  // A reload of the page keeps the session: sessionStorage survives it, unlike variables.
  const token = sessionStorage.getItem(STORE.token);
  const expiresAt = Number(sessionStorage.getItem(STORE.expires)) || Infinity;
  if (token && Date.now() < expiresAt) {
    startSession(token, expiresAt, sessionStorage.getItem(STORE.user));
  } else {
    endSession(token ? "Your session has expired. Please log in again." : "");
  }
}

boot();
