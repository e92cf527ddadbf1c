// The head-to-head board (an st.components.v2 component, no iframe): Connect Four against the agent.
//
// The person clicks a column (or presses 1–7); the move goes to the server over the WebSocket at
// /api/board as {"type":"move","column":c,"ply":n} and the server answers with its own board: the person's
// stone, the agent's answer and what the agent thought (move probabilities over the columns, V(s)). The
// person's stone is drawn at once when the column has room; everything else is drawn from the server's
// answer, which is the authority (a refused move is undone and its message shown). When the game ends the
// server says who won and how both ratings moved; Streamlit hears of it through the trigger "finished" (the
// match id), so the page below redraws the agent's record. The messages are described in docs/head-to-head.md.
//
// Streamlit calls this function again on every rerun, so it is idempotent: the game lives on the parent
// element and is rebuilt only when the data (game, seat, player) differ.

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const key = JSON.stringify(data);
  const host = parentElement;
  if (host.__c4 && host.__c4.key === key) {
    return host.__c4.teardown;
  }
  if (host.__c4) {
    host.__c4.teardown();
  }

  const ROWS = 6;
  const COLS = 7;
  const root = host.querySelector(".c4");
  const $ = (sel) => root.querySelector(sel);
  const state = {
    key, ws: null, phase: "loading", moves: [], grid: null, legal: [], seat: data.seat, sentAt: null,
    stats: { latencies: [], serverMs: [], moves: 0, phase: "loading", result: null, errors: [], player: data.player },
  };
  window.__ppoBoard = state.stats; // read by bench/connect_four_latency.py and tests/test_board_browser.py

  const status = (text) => { $(".c4-status").textContent = text; };
  const setPhase = (phase) => { state.phase = phase; state.stats.phase = phase; root.dataset.phase = phase; };
  const you = data.seat === 0 ? 1 : 2; // the person's stone in the grid (1 = player_0, who moves first)

  // the board: a row of column buttons (1..7) over 6x7 cells; row 0 is the top, as in PettingZoo's grid
  const boardEl = $(".c4-board");
  boardEl.replaceChildren();
  for (let c = 0; c < COLS; c++) {
    const b = document.createElement("button");
    b.className = "c4-col";
    b.textContent = String(c + 1);
    b.setAttribute("data-testid", `c4-col-${c + 1}`);
    b.title = `drop in column ${c + 1} (key ${c + 1})`;
    b.onclick = () => play(c);
    boardEl.appendChild(b);
  }
  const cells = [];
  for (let r = 0; r < ROWS; r++) {
    cells.push([]);
    for (let c = 0; c < COLS; c++) {
      const cell = document.createElement("div");
      cell.className = "c4-cell";
      cell.setAttribute("data-testid", `c4-cell-${r}-${c}`);
      cell.onclick = () => play(c);
      boardEl.appendChild(cell);
      cells[r].push(cell);
    }
  }

  // "what the agent thinks": one bar per column and V(s); toggled by the checkbox, shown after each agent move
  const thinksEl = $(".c4-thinks");
  const toggle = $(".c4-thinks-toggle");
  toggle.onchange = () => { thinksEl.style.display = toggle.checked ? "" : "none"; };
  thinksEl.style.display = toggle.checked ? "" : "none";
  const bars = $(".c4-bars");
  bars.replaceChildren();
  const barEls = [];
  for (let c = 0; c < COLS; c++) {
    const wrap = document.createElement("div");
    wrap.className = "c4-barwrap";
    const bar = document.createElement("div");
    bar.className = "c4-bar-fill";
    const label = document.createElement("div");
    label.className = "c4-bar-label";
    label.textContent = String(c + 1);
    const pct = document.createElement("div");
    pct.className = "c4-bar-pct";
    wrap.append(pct, bar, label);
    bars.appendChild(wrap);
    barEls.push({ bar, pct, wrap });
  }
  function showThinks(t) {
    const v = $(".c4-value");
    if (!t) {
      for (const b of barEls) { b.bar.style.height = "0"; b.pct.textContent = ""; b.wrap.classList.remove("c4-chosen"); }
      v.textContent = "The agent has not moved yet.";
      return;
    }
    t.probabilities.forEach((p, c) => {
      barEls[c].bar.style.height = `${Math.round(p * 100)}%`;
      barEls[c].pct.textContent = p >= 0.005 ? `${Math.round(p * 100)}%` : "";
      barEls[c].wrap.classList.toggle("c4-chosen", c === t.column);
    });
    const sign = t.value >= 0 ? "+" : "−";
    const mood = t.value > 0.3 ? "it expects to win" : t.value < -0.3 ? "it expects to lose" : "it sees an even game";
    v.textContent = `V(s) = ${sign}${Math.abs(t.value).toFixed(2)} for the agent before its move: ${mood}. `
      + `It played column ${t.column + 1} (${(t.probabilities[t.column] * 100).toFixed(0)} %), decided in ${t.ms.toFixed(1)} ms.`;
  }
  showThinks(null);

  function draw(grid, line) {
    const win = new Set((line || []).map(([r, c]) => `${r},${c}`));
    for (let r = 0; r < ROWS; r++) {
      for (let c = 0; c < COLS; c++) {
        const v = grid[r][c];
        const cell = cells[r][c];
        cell.classList.toggle("c4-you", v === you);
        cell.classList.toggle("c4-agent", v !== 0 && v !== you);
        cell.classList.toggle("c4-win", win.has(`${r},${c}`));
      }
    }
  }

  function dropLocally(column) {
    // the person's stone at once, where the server will put it; the server's answer redraws the whole board
    if (!state.grid) return;
    for (let r = ROWS - 1; r >= 0; r--) {
      if (state.grid[r][column] === 0) {
        const g = state.grid.map((row) => row.slice());
        g[r][column] = you;
        draw(g);
        return;
      }
    }
  }

  function yourTurnText() {
    return `Your move (you are ${data.seat === 0 ? "red, first" : "red, second"}): click a column or press 1–7.`;
  }

  function send(obj) {
    if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(obj));
  }

  function play(column) {
    if (state.phase !== "yours") return;
    setPhase("waiting");
    state.sentAt = performance.now();
    if (state.legal[column]) dropLocally(column); // a full column is sent anyway: the server says why not
    status("The agent is thinking…");
    send({ type: "move", column, ply: state.moves.length });
  }

  function applyState(msg) {
    state.moves = msg.moves;
    state.grid = msg.grid;
    state.legal = msg.legal;
    state.stats.moves = msg.moves.length;
    state.stats.legal = msg.legal;
    draw(msg.grid);
  }

  function ratingLine(msg) {
    if (!msg.ratings) return msg.note || "";
    const b = msg.ratings.before, a = msg.ratings.after;
    const fmt = (r) => (r ? r.mu.toFixed(1) : "25.0 (new)");
    const rec = msg.record;
    return `Agent rating μ ${fmt(b.agent)} → ${fmt(a.agent)}; yours ${fmt(b.person)} → ${fmt(a.person)}. `
      + `The agent against people: ${rec.wins} W · ${rec.draws} D · ${rec.losses} L.`;
  }

  function finish(msg) {
    setPhase("over");
    draw(state.grid, msg.line);
    const verdict = msg.outcome === "win" ? "You win!" : msg.outcome === "loss" ? "The agent wins." : "A draw.";
    const result = $(".c4-result");
    result.textContent = "";
    const strong = document.createElement("strong");
    strong.textContent = verdict;
    result.append(strong, document.createTextNode(" " + ratingLine(msg)));
    status(`${verdict} Press New game to play again.`);
    state.stats.result = msg;
    setTriggerValue("finished", msg.match_id === null || msg.match_id === undefined ? -1 : msg.match_id);
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}${data.path}`);
    state.ws = ws;
    status("connecting…");
    ws.onopen = () => send({ type: "start", game: data.game, seat: data.seat, player: data.player });
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "ready") {
        $(".c4-result").textContent = "";
        $(".c4-agent-name").textContent = msg.agent;
        applyState(msg);
        showThinks(msg.agent_move);
        setPhase("yours");
        status(yourTurnText());
      } else if (msg.type === "moved") {
        applyState(msg);
        if (state.sentAt !== null) {
          const t0 = state.sentAt;
          state.sentAt = null;
          // click to the agent's stone on screen: the next frame after the DOM has it
          requestAnimationFrame(() => state.stats.latencies.push(performance.now() - t0));
        }
        if (msg.agent_move) { showThinks(msg.agent_move); state.stats.serverMs.push(msg.agent_move.ms); }
        if (!msg.over) { setPhase("yours"); status(yourTurnText()); }
      } else if (msg.type === "end") {
        finish(msg);
      } else if (msg.type === "error") {
        state.sentAt = null;
        state.stats.errors.push(msg.code);
        if (state.grid) draw(state.grid); // undo the stone drawn ahead of the answer
        if (state.phase === "waiting") setPhase("yours");
        status(msg.message);
        console.warn("board server:", msg.code, msg.message);
      } else if (msg.type === "busy" || msg.type === "closed") {
        setPhase("loading");
        status(msg.message);
      }
    };
    ws.onclose = () => {
      if (state.phase !== "over") { setPhase("loading"); status("disconnected: press New game to reconnect"); }
    };
  }

  function newGame() {
    setPhase("loading");
    if (!state.ws || state.ws.readyState > 1) { connect(); return; }
    send({ type: "start", game: data.game, seat: data.seat, player: data.player });
  }
  $(".c4-new").onclick = newGame;

  // keys 1..7 drop in that column, unless the person is typing in a box (their name)
  const TEXT_INPUTS = ["text", "number", "search", "email", "password", "url", "tel"];
  const typing = (ev) => {
    const t = ev.target;
    if (!t) return false;
    if (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable) return true;
    return t.tagName === "INPUT" && TEXT_INPUTS.includes((t.type || "text").toLowerCase());
  };
  function onKey(ev) {
    if (typing(ev) || ev.repeat || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const n = "1234567".indexOf(ev.key);
    if (n < 0) return;
    ev.preventDefault();
    play(n);
  }
  window.addEventListener("keydown", onKey, true);

  connect();

  state.teardown = () => {
    window.removeEventListener("keydown", onKey, true);
    if (state.ws) { state.ws.onclose = null; state.ws.close(); }
    if (host.__c4 === state) delete host.__c4;
  };
  host.__c4 = state;
  return state.teardown;
}
