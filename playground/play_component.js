// The play page's game loop (an st.components.v2 component, no iframe).
//
// It owns the canvases and a timer loop: keydown/keyup change the held keys; once per tick (the
// game's fps, halved at half speed) it sends {"type":"step","seq":n,"keys":[...]} over the
// WebSocket at /api/play and draws the frames that come back. One step is in flight at a time (lockstep);
// a key change that comes at least half a tick after the last step is sent at once instead of waiting for
// the next tick, which keeps key-to-frame short without ever stepping faster than twice the game's fps. Streamlit hears from it only when an
// episode ends (trigger "finished" → the scoreboard rerun).
// The messages are described in docs/play.md.
//
// Streamlit calls this function again whenever the component's data changes and on reruns, so it is
// idempotent: the running game lives on the parent element and is rebuilt only when the data differ.

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const key = JSON.stringify(data);
  const host = parentElement;
  if (host.__ppo && host.__ppo.key === key) {
    return host.__ppo.teardown;
  }
  if (host.__ppo) {
    host.__ppo.teardown();
  }

  const root = host.querySelector(".ppo-play");
  const $ = (sel) => root.querySelector(sel);
  const sides = data.mode === "versus" ? ["human", "agent"] : data.mode === "solo" ? ["human"] : ["agent"];
  const titles = { human: data.player && data.player !== "anonymous" ? `You (${data.player})` : "You", agent: "Agent" };
  $(".ppo-boards").innerHTML = sides.map((s) => `
    <div class="ppo-board" data-side="${s}">
      <div class="ppo-title">${titles[s].replace(/[<>&]/g, "")}</div>
      <canvas class="ppo-canvas" data-testid="ppo-canvas-${s}"></canvas>
      <div class="ppo-score" data-testid="ppo-score-${s}">return 0 · step 0</div>
    </div>`).join("");

  const state = {
    key, ws: null, seq: 0, inflight: false, held: new Set(), paused: false, half: false, over: false,
    ready: false, fps: 30, keys: new Set(), lastSent: 0, timer: 0, keyTime: null, sentKeyTime: {},
    stats: { steps: 0, started: 0, latencies: [], roundTrips: [], sentAt: {} },
  };
  window.__ppoPlay = state.stats; // read by bench/play.py and the browser test
  const status = (text) => { $(".ppo-status").textContent = text; };

  function draw(side, b64, info, keyTime) {
    const board = root.querySelector(`.ppo-board[data-side="${side}"]`);
    if (!board) return;
    const canvas = board.querySelector("canvas");
    const img = new Image();
    img.onload = () => {
      if (canvas.width !== img.width) { canvas.width = img.width; canvas.height = img.height; }
      canvas.getContext("2d").drawImage(img, 0, 0);
      // key-to-frame: from the key event to this frame (the first one stepped with it) on the canvas
      if (keyTime !== undefined) state.stats.latencies.push(performance.now() - keyTime);
    };
    img.src = "data:image/jpeg;base64," + b64;
    if (info) {
      board.querySelector(".ppo-score").textContent =
        `return ${info.return.toFixed(2)} · step ${info.steps}` + (info.done ? " · done" : "");
    }
  }

  function show(msg, keyTime) {
    for (const s of sides) {
      if (msg.frames && msg.frames[s]) draw(s, msg.frames[s], msg.state && msg.state[s], s === "human" ? keyTime : undefined);
    }
  }

  function send(obj) {
    if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(obj));
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}${data.path}`);
    state.ws = ws;
    status("connecting…");
    ws.onopen = () => send({ type: "start", game: data.game, mode: data.mode, seed: data.seed, player: data.player });
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "ready") {
        if (msg.fps) state.fps = msg.fps;
        if (msg.keys) state.keys = new Set(msg.keys);
        state.seq = 0; state.inflight = false; state.over = false; state.ready = true;
        state.lastSent = performance.now() - period();
        state.stats.started = performance.now(); state.stats.steps = 0;
        $(".ppo-seed").textContent = `seed ${msg.seed}`;
        show(msg);
        status(data.mode === "watch" ? "the agent plays" : "playing: use the keys below");
        schedule();
      } else if (msg.type === "frame") {
        state.inflight = false;
        state.stats.steps += 1;
        if (msg.state.done) state.over = true; // the "end" message follows; no step in between
        const now = performance.now();
        const sentAt = state.stats.sentAt[msg.seq];
        if (sentAt !== undefined) { state.stats.roundTrips.push(now - sentAt); delete state.stats.sentAt[msg.seq]; }
        const kt = state.sentKeyTime[msg.seq];
        delete state.sentKeyTime[msg.seq];
        show(msg, kt);
        schedule();
      } else if (msg.type === "end") {
        state.over = true;
        const r = msg.result;
        const verdict = msg.winner === "human" ? "You win!" : msg.winner === "agent" ? "The agent wins."
          : msg.winner === "draw" ? "A draw." : "Episode over.";
        status(`${verdict}${msg.note ? " " + msg.note : ""} Restart or pick a new seed to play again.`);
        if (msg.result_id !== null && msg.result_id !== undefined) setTriggerValue("finished", msg.result_id);
        else setTriggerValue("finished", -1);
        state.lastResult = r;
      } else if (msg.type === "error") {
        state.inflight = false;
        status(`error: ${msg.message}`);
        schedule();
        console.warn("play server:", msg.code, msg.message);
      } else if (msg.type === "busy" || msg.type === "closed") {
        state.ready = false;
        status(msg.message);
      }
    };
    ws.onclose = () => { state.ready = false; if (!state.over) status("disconnected: press Restart to reconnect"); };
  }

  const period = () => 1000 / (state.fps * (state.half ? 0.5 : 1));
  const canSend = () => state.ready && !state.paused && !state.over && !state.inflight;

  function sendStep(early) {
    if (!canSend()) return;
    const now = performance.now();
    // keep the cadence (catch up at most one tick after a slow answer, never burst); an early step re-anchors it
    state.lastSent = early ? now : Math.max(state.lastSent + period(), now - period());
    state.seq += 1;
    state.inflight = true;
    state.stats.sentAt[state.seq] = now;
    if (state.keyTime !== null) { state.sentKeyTime[state.seq] = state.keyTime; state.keyTime = null; }
    send({ type: "step", seq: state.seq, keys: data.mode === "watch" ? [] : [...state.held] });
  }

  function schedule() {
    clearTimeout(state.timer);
    if (!canSend()) return;
    const wait = Math.max(0, state.lastSent + period() - performance.now());
    state.timer = setTimeout(() => sendStep(false), wait);
  }

  // keys belong to a box being typed in (name, seed); radios, buttons and the page itself leave them to the game
  const TEXT_INPUTS = ["text", "number", "search", "email", "password", "url", "tel"];
  const typing = (ev) => {
    const t = ev.target;
    if (!t) return false;
    if (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable) return true;
    return t.tagName === "INPUT" && TEXT_INPUTS.includes((t.type || "text").toLowerCase());
  };
  function onKey(ev) {
    if (typing(ev) || data.mode === "watch" || !state.keys.has(ev.key)) return;
    ev.preventDefault(); // arrows and space would scroll the page or move a focused radio
    ev.stopPropagation();
    const before = state.held.has(ev.key);
    if (ev.type === "keydown") state.held.add(ev.key); else state.held.delete(ev.key);
    if (before !== state.held.has(ev.key)) {
      state.keyTime = performance.now();
      if (canSend() && state.keyTime - state.lastSent >= period() / 2) { clearTimeout(state.timer); sendStep(true); }
    }
  }
  window.addEventListener("keydown", onKey, true); // capture: before the page's widgets see the key
  window.addEventListener("keyup", onKey, true);
  const onBlur = () => state.held.clear();
  window.addEventListener("blur", onBlur);

  const pauseBtn = $(".ppo-pause");
  const halfBtn = $(".ppo-half");
  pauseBtn.onclick = () => { state.paused = !state.paused; pauseBtn.textContent = state.paused ? "Resume" : "Pause"; schedule(); };
  halfBtn.onclick = () => { state.half = !state.half; halfBtn.textContent = state.half ? "Full speed" : "Half speed"; schedule(); };
  const reset = (seed) => {
    state.ready = false;
    if (!state.ws || state.ws.readyState > 1) { connect(); return; }
    send({ type: "reset", seed });
  };
  $(".ppo-restart").onclick = () => reset(Number($(".ppo-seed").textContent.replace("seed ", "")) || data.seed);
  $(".ppo-new").onclick = () => reset(Math.floor(Math.random() * 1000000));

  connect();

  state.teardown = () => {
    clearTimeout(state.timer);
    window.removeEventListener("keydown", onKey, true);
    window.removeEventListener("keyup", onKey, true);
    window.removeEventListener("blur", onBlur);
    if (state.ws) { state.ws.onclose = null; state.ws.close(); }
    if (host.__ppo === state) delete host.__ppo;
  };
  host.__ppo = state;
  return state.teardown;
}
