// The play page's game loop (an st.components.v2 component, no iframe).
//
// It owns the canvases and a timer loop: keydown/keyup change the held keys; once per tick (the
// game's fps, halved at half speed) it sends {"type":"step","seq":n,"keys":[...]} over the
// WebSocket at /api/play and draws the frames that come back. One step is in flight at a time (lockstep);
// a key change that comes at least half a tick after the last step is sent at once instead of waiting for
// the next tick, which keeps key-to-frame short without ever stepping faster than twice the game's fps.
//
// Every game waits for its player: after the first frame nothing steps until a key or Start, then a 3-2-1
// countdown, then {"type":"go"} (the server refuses steps before it). Hiding the tab pauses the game
// ({"type":"pause"}) and says so; a key or Resume brings the countdown back. Streamlit hears from it only
// when an episode ends (trigger "finished" → the scoreboard rerun).
// Modes: versus/solo/watch show one canvas per side ("human", "agent"); duel shows one court ("court")
// with both scores. The messages are described in docs/play.md.
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
  const duel = data.mode === "duel";
  const sides = duel ? ["court"] : data.mode === "versus" ? ["human", "agent"] : data.mode === "solo" ? ["human"] : ["agent"];
  const you = data.player && data.player !== "anonymous" ? `You (${data.player})` : "You";
  const them = data.agent ? `Agent ${data.agent}` : "Agent"; // a registered agent (lab:…, hub:…) or the shipped one
  const titles = { human: you, agent: them, court: `${you}: left paddle · ${them}: right paddle` };
  $(".ppo-boards").innerHTML = sides.map((s) => `
    <div class="ppo-board${duel ? " ppo-court" : ""}" data-side="${s}">
      <div class="ppo-title">${titles[s].replace(/[<>&]/g, "")}</div>
      <canvas class="ppo-canvas" data-testid="ppo-canvas-${s}"></canvas>
      <div class="ppo-score" data-testid="ppo-score-${s}">${duel ? "You 0 : 0 Agent" : "return 0 · step 0"}</div>
    </div>`).join("");
  $(".ppo-half").style.display = duel ? "none" : ""; // a duel runs at the game's 60 frames/s, or is not rated

  // phase: loading → waiting (first frame shown) → countdown → running ⇄ paused → over
  const state = {
    key, ws: null, seq: 0, inflight: false, held: new Set(), phase: "loading", half: false,
    fps: 30, keys: new Set(), lastSent: 0, timer: 0, countdown: 0, keyTime: null, sentKeyTime: {},
    stats: { steps: 0, started: 0, latencies: [], roundTrips: [], sentAt: {}, phase: "loading", score: null },
  };
  window.__ppoPlay = state.stats; // read by bench/play.py, bench/pong_duel.py and the browser tests
  const status = (text) => { $(".ppo-status").textContent = text; };
  const overlay = (text) => {
    const el = $(".ppo-overlay");
    el.textContent = text || "";
    el.style.display = text ? "flex" : "none";
  };
  const startBtn = $(".ppo-start");
  function setPhase(phase) {
    state.phase = phase;
    state.stats.phase = phase;
    startBtn.textContent = phase === "running" || phase === "countdown" ? "Pause" : phase === "paused" ? "Resume" : "Start";
    startBtn.disabled = phase === "loading" || phase === "over";
  }
  setPhase("loading");

  function scoreText(side, info) {
    if (side === "court") {
      return `You ${info.score.human} : ${info.score.agent} Agent · frame ${info.frame}` + (info.done ? " · match over" : "");
    }
    return `return ${info.return.toFixed(2)} · step ${info.steps}` + (info.done ? " · done" : "");
  }

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
    if (info) board.querySelector(".ppo-score").textContent = scoreText(side, info);
  }

  function show(msg, keyTime) {
    if (duel && msg.state) state.stats.score = msg.state.score;
    for (const s of sides) {
      const info = duel ? msg.state : msg.state && msg.state[s];
      if (msg.frames && msg.frames[s]) draw(s, msg.frames[s], info, s !== "agent" ? keyTime : undefined);
    }
  }

  function send(obj) {
    if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(obj));
  }

  const WAITING = data.mode === "watch" ? "Press a key or Start: the agent plays when you are ready"
    : "Press a key or Start to play";

  function verdict(msg) {
    if (duel) {
      const s = msg.result.score;
      const line = msg.winner === "human" ? `You win ${s.human}–${s.agent}!` : msg.winner === "agent"
        ? `The agent wins ${s.agent}–${s.human}.` : `Draw, ${s.human}–${s.agent}.`;
      const r = msg.rating;
      const rating = r && r.mu !== null
        ? ` Agent rating ${r.mu.toFixed(1)} ± ${r.sigma.toFixed(1)}; vs people ${r.record.wins}W ${r.record.draws}D ${r.record.losses}L.`
        : "";
      return line + rating;
    }
    return msg.winner === "human" ? "You win!" : msg.winner === "agent" ? "The agent wins."
      : msg.winner === "draw" ? "A draw." : "Episode over.";
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}${data.path}`);
    state.ws = ws;
    status("connecting…");
    ws.onopen = () => send({
      type: "start", game: data.game, mode: data.mode, seed: data.seed, player: data.player,
      ...(data.agent ? { agent: data.agent } : {}),
    });
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "ready") {
        if (msg.fps) state.fps = msg.fps;
        if (msg.keys) state.keys = new Set(msg.keys);
        state.seq = 0; state.inflight = false;
        clearInterval(state.countdown);
        state.stats.steps = 0;
        $(".ppo-seed").textContent = `seed ${msg.seed}`;
        show(msg);
        setPhase("waiting");
        status(WAITING);
        overlay(WAITING);
      } else if (msg.type === "running") {
        if (state.phase !== "countdown") { send({ type: "pause" }); return; } // paused while the go was on its way
        setPhase("running");
        overlay("");
        state.lastSent = performance.now() - period();
        state.stats.started = performance.now();
        status(data.mode === "watch" ? "the agent plays" : duel ? "playing: ↑/↓ move your paddle, Space serves" : "playing: use the keys below");
        schedule();
      } else if (msg.type === "paused") {
        // nothing to do: the page paused first
      } else if (msg.type === "frame") {
        state.inflight = false;
        state.stats.steps += 1;
        if (msg.state.done) setPhase("over"); // the "end" message follows; no step in between
        const now = performance.now();
        const sentAt = state.stats.sentAt[msg.seq];
        if (sentAt !== undefined) { state.stats.roundTrips.push(now - sentAt); delete state.stats.sentAt[msg.seq]; }
        const kt = state.sentKeyTime[msg.seq];
        delete state.sentKeyTime[msg.seq];
        show(msg, kt);
        schedule();
      } else if (msg.type === "end") {
        setPhase("over");
        const text = verdict(msg);
        status(`${text}${msg.note ? " " + msg.note : ""} Restart or pick a new seed to play again.`);
        overlay(text);
        state.stats.result = msg;
        if (msg.result_id !== null && msg.result_id !== undefined) setTriggerValue("finished", msg.result_id);
        else setTriggerValue("finished", -1);
      } else if (msg.type === "error") {
        state.inflight = false;
        status(`error: ${msg.message}`);
        schedule();
        console.warn("play server:", msg.code, msg.message);
      } else if (msg.type === "busy" || msg.type === "closed") {
        setPhase("loading");
        status(msg.message);
        overlay(msg.message);
      }
    };
    ws.onclose = () => {
      clearInterval(state.countdown);
      if (state.phase !== "over") { setPhase("loading"); status("disconnected: press Restart to reconnect"); }
    };
  }

  const period = () => 1000 / (state.fps * (state.half ? 0.5 : 1));
  const canSend = () => state.phase === "running" && !state.inflight;

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

  // a key or Start: 3-2-1, then "go"; the server steps nothing before it
  function begin() {
    if (state.phase !== "waiting" && state.phase !== "paused") return;
    setPhase("countdown");
    let n = 3;
    overlay(String(n));
    status(`starting in ${n}…`);
    clearInterval(state.countdown);
    state.countdown = setInterval(() => {
      n -= 1;
      if (n > 0) { overlay(String(n)); status(`starting in ${n}…`); return; }
      clearInterval(state.countdown);
      overlay("Go!");
      send({ type: "go" });
    }, 1000);
  }

  function pause(reason) {
    if (state.phase === "countdown") clearInterval(state.countdown);
    else if (state.phase === "running") send({ type: "pause" });
    else return;
    clearTimeout(state.timer);
    setPhase("paused");
    state.held.clear();
    const text = `Paused${reason ? ": " + reason : ""}. Press a key or Resume to play on.`;
    status(text);
    overlay(text);
  }

  // keys belong to a box being typed in (name, seed); radios, buttons and the page itself leave them to the game
  const TEXT_INPUTS = ["text", "number", "search", "email", "password", "url", "tel"];
  const typing = (ev) => {
    const t = ev.target;
    if (!t) return false;
    if (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable) return true;
    return t.tagName === "INPUT" && TEXT_INPUTS.includes((t.type || "text").toLowerCase());
  };
  const NOT_A_START = ["Shift", "Control", "Alt", "Meta", "Tab", "CapsLock", "Escape"];
  function onKey(ev) {
    if (typing(ev)) return;
    const gameKey = data.mode !== "watch" && state.keys.has(ev.key);
    if (ev.type === "keydown" && !ev.repeat && (state.phase === "waiting" || state.phase === "paused")
        && !NOT_A_START.includes(ev.key) && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      if (gameKey || ev.key === "Enter") ev.preventDefault();
      begin();
    }
    if (!gameKey) return;
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
  const onVisibility = () => { if (document.hidden) pause("the tab was hidden"); };
  document.addEventListener("visibilitychange", onVisibility);

  const halfBtn = $(".ppo-half");
  startBtn.onclick = () => {
    if (state.phase === "running" || state.phase === "countdown") pause("");
    else begin();
  };
  halfBtn.onclick = () => { state.half = !state.half; halfBtn.textContent = state.half ? "Full speed" : "Half speed"; schedule(); };
  const reset = (seed) => {
    clearInterval(state.countdown);
    clearTimeout(state.timer);
    setPhase("loading");
    if (!state.ws || state.ws.readyState > 1) { connect(); return; }
    send({ type: "reset", seed });
  };
  $(".ppo-restart").onclick = () => reset(Number($(".ppo-seed").textContent.replace("seed ", "")) || data.seed);
  $(".ppo-new").onclick = () => reset(Math.floor(Math.random() * 1000000));

  connect();

  state.teardown = () => {
    clearTimeout(state.timer);
    clearInterval(state.countdown);
    window.removeEventListener("keydown", onKey, true);
    window.removeEventListener("keyup", onKey, true);
    window.removeEventListener("blur", onBlur);
    document.removeEventListener("visibilitychange", onVisibility);
    if (state.ws) { state.ws.onclose = null; state.ws.close(); }
    if (host.__ppo === state) delete host.__ppo;
  };
  host.__ppo = state;
  return state.teardown;
}
