// WebSocket client for /ws/cases/{id}: join, answer pings, reconnect with backoff.
// Events: "joined", "message" (detail = message), "reconnecting", "fatal" (detail = {code}).
// 4010: the lead ended the call for everyone (a rectification request); no reconnecting.
const FATAL = new Set([1008, 4001, 4003, 4010, 4401]);
const MAX_BACKOFF_MS = 8000;

export class Signaling extends EventTarget {
  constructor(caseId, token) {
    super();
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/cases/${encodeURIComponent(caseId)}`;
    this.token = token;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this._open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) {
      this.send({ type: "leave" });
      this.ws.close(1000);
    }
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _open() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "join", token: this.token }));
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => this._closed(ws, event.code);
  }

  _receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === "ping") {
      this.send({ type: "pong" });
      return;
    }
    if (message.type === "joined") {
      this.attempt = 0;
      this._emit("joined", message);
    }
    this._emit("message", message);
  }

  _closed(ws, code) {
    if (ws !== this.ws || this.stopped) return;
    if (FATAL.has(code)) {
      this.stopped = true;
      this._emit("fatal", { code });
      return;
    }
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this._emit("reconnecting", { attempt: this.attempt, delay });
    this.timer = setTimeout(() => this._open(), delay);
  }
}
