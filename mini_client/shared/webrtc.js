// The call's media for every page: the phone's camera and microphone, staff's microphone, and
// the one peer connection class offering what the server's media side expects.

/** Ask for camera and microphone; rear camera by default. Throws the browser's DOMException. */
export async function openCamera(facingMode = "environment") {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    const error = new Error("getUserMedia unavailable");
    error.name = "NotSupportedError";
    throw error;
  }
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true },
    video: { facingMode: { ideal: facingMode }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
}

export function torchSupported(stream) {
  const track = stream && stream.getVideoTracks()[0];
  if (!track || typeof track.getCapabilities !== "function") return false;
  return Boolean(track.getCapabilities().torch);
}

export async function setTorch(stream, on) {
  const track = stream.getVideoTracks()[0];
  await track.applyConstraints({ advanced: [{ torch: on }] });
}

export function setMuted(stream, muted) {
  for (const track of stream.getAudioTracks()) track.enabled = !muted;
}

/** VP8 first (the server forwards it untranscoded); `side` is RTCRtpSender or RTCRtpReceiver. */
export function preferVp8(transceiver, side = window.RTCRtpSender) {
  const caps = side && side.getCapabilities && side.getCapabilities("video");
  if (!caps || typeof transceiver.setCodecPreferences !== "function") return;
  const vp8 = caps.codecs.filter((c) => /video\/(vp8|rtx)/i.test(c.mimeType));
  if (vp8.some((c) => /vp8/i.test(c.mimeType))) transceiver.setCodecPreferences(vp8);
}

/**
 * One peer connection to the media server, for the phone and for staff alike: what each side
 * sends and receives is its transceiver list (`phoneTransceivers`, `staffTransceivers`), in the
 * order the server expects. `send(message)` posts signaling messages; feed server messages to
 * `handle`. Emits "track" (detail = { track, stream }) and "state" (the connection state).
 * With `restartIceOnFailure` a failed connection asks for new candidates by itself.
 */
export class Peer extends EventTarget {
  constructor(send, { iceServers = [], transceivers, restartIceOnFailure = false }) {
    super();
    this.send = send;
    this.pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers });
    this.video = transceivers(this.pc);
    this.pc.onicecandidate = ({ candidate }) =>
      this.send({
        type: "candidate",
        candidate: candidate ? candidate.candidate : null,
        sdp_mid: candidate ? candidate.sdpMid : null,
        sdp_mline_index: candidate ? candidate.sdpMLineIndex : null,
      });
    this.pc.ontrack = (event) =>
      this._emit("track", { track: event.track, stream: event.streams[0] || new MediaStream([event.track]) });
    this.pc.onconnectionstatechange = () => {
      this._emit("state", this.pc.connectionState);
      if (restartIceOnFailure && this.pc.connectionState === "failed") this.restartIce();
    };
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  async offer() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    this.send({ type: "offer", sdp: this.pc.localDescription.sdp });
  }

  /** After a Wi-Fi ↔ 4G switch the old ICE path is dead: ask for new candidates. */
  async restartIce() {
    await this.pc.setLocalDescription(await this.pc.createOffer({ iceRestart: true }));
    this.send({ type: "ice_restart", sdp: this.pc.localDescription.sdp });
  }

  async handle(message) {
    if (message.type === "answer") {
      await this.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
    } else if (message.type === "offer") {
      await this.pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      this.send({ type: "answer", sdp: this.pc.localDescription.sdp });
    } else if (message.type === "candidate" && message.candidate) {
      await this.pc.addIceCandidate({
        candidate: message.candidate,
        sdpMid: message.sdp_mid,
        sdpMLineIndex: message.sdp_mline_index,
      });
    }
  }

  /** Swap the camera without renegotiating. */
  async replaceVideo(track) {
    await this.video.sender.replaceTrack(track);
  }

  close() {
    this.pc.close();
  }
}

/** The phone: video sendonly VP8, audio sendrecv (us + the inspectors), audio recvonly. */
export const phoneTransceivers = (stream) => (pc) => {
  const [video] = stream.getVideoTracks();
  const [audio] = stream.getAudioTracks();
  const sent = pc.addTransceiver(video, { direction: "sendonly", streams: [stream] });
  preferVp8(sent);
  pc.addTransceiver(audio, { direction: "sendrecv", streams: [stream] });
  pc.addTransceiver("audio", { direction: "recvonly" });
  return sent;
};

/**
 * Staff: recv video + recv audio (the phone), then send/recv audio (us + the other inspector);
 * without a microphone (`mic` null) that last one only listens.
 */
export const staffTransceivers = (mic) => (pc) => {
  const received = pc.addTransceiver("video", { direction: "recvonly" });
  preferVp8(received, window.RTCRtpReceiver); // we only receive video
  pc.addTransceiver("audio", { direction: "recvonly" });
  const track = mic && mic.getAudioTracks()[0];
  if (track) pc.addTransceiver(track, { direction: "sendrecv", streams: [mic] });
  else pc.addTransceiver("audio", { direction: "recvonly" });
  return received;
};

/** A microphone for staff, or null: listen-only, the call still shows the phone. */
export async function openMic() {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
  } catch {
    return null;
  }
}
