// The NeuralOS page (server mode): captures mouse, wheel and keys in the reference demo's message format,
// sends them over a WebSocket and draws the binary frames the server returns.
(() => {
  const canvas = document.getElementById('screen'), ctx = canvas.getContext('2d');
  const overlay = document.getElementById('overlay'), status = document.getElementById('status');
  const stepsInput = document.getElementById('steps'), stepsValue = document.getElementById('stepsValue');
  let info = { screen: { width: 512, height: 384 } }, scale = 1, last = { x: 0, y: 0 }, lastSent = 0, frames = 0, fpsT = performance.now(), fps = 0;
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.binaryType = 'arraybuffer';
  window.__player = { frames: 0, errors: [], ws };

  const send = (m) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };
  const pos = (e) => {
    const r = canvas.getBoundingClientRect();
    const x = Math.min(info.screen.width - 1, Math.max(0, Math.floor((e.clientX - r.left) / scale)));
    const y = Math.min(info.screen.height - 1, Math.max(0, Math.floor((e.clientY - r.top) / scale)));
    return { x, y };
  };
  const input = (extra) => send({ x: last.x, y: last.y, is_left_click: false, is_right_click: false, keys_down: [], keys_up: [], wheel_delta_x: 0, wheel_delta_y: 0, ...extra });

  function setup(i) {
    info = i;
    const { width, height } = i.screen;
    scale = Math.max(1, Math.floor(Math.min(960 / width, 600 / height)));   // small configs scaled up, crisp
    canvas.width = width; canvas.height = height;
    canvas.style.width = `${width * scale}px`; canvas.style.height = `${height * scale}px`;
    document.getElementById('random').textContent = i.randomWeights ? 'RANDOM WEIGHTS (no checkpoint): frames are noise, not a desktop' : '';
    stepsInput.value = String(i.steps); stepsValue.textContent = String(i.steps);
  }

  ws.onopen = () => { status.textContent = 'connected'; send({ type: 'get_settings' }); input({}); };
  ws.onclose = () => { status.textContent = 'disconnected'; status.className = 'error'; };
  ws.onmessage = (msg) => {
    if (typeof msg.data === 'string') {
      const m = JSON.parse(msg.data);
      if (m.type === 'settings') setup(m);
      if (m.type === 'error') { status.textContent = m.message; status.className = 'error'; window.__player.errors.push(m.message); }
      return;
    }
    const dv = new DataView(msg.data), w = dv.getUint32(0, true), h = dv.getUint32(4, true);
    const rgb = new Uint8Array(msg.data, 24), img = ctx.createImageData(w, h);
    for (let i = 0; i < w * h; i++) { img.data[4 * i] = rgb[3 * i]; img.data[4 * i + 1] = rgb[3 * i + 1]; img.data[4 * i + 2] = rgb[3 * i + 2]; img.data[4 * i + 3] = 255; }
    ctx.putImageData(img, 0, 0);
    frames++; window.__player.frames = frames;
    const now = performance.now();
    if (now - fpsT > 1000) { fps = (frames * 1000) / (now - fpsT); frames = 0; fpsT = now; }
    const ms = [12, 16, 20].map((o) => dv.getFloat32(o, true).toFixed(0));
    overlay.textContent = `${fps.toFixed(1)} fps  frame ${dv.getUint32(8, true)}\n${info.backend}: ${info.adapter}\nstate ${ms[0]} ms  unet ${ms[1]} ms  decode ${ms[2]} ms`;
  };

  canvas.addEventListener('mousemove', (e) => {
    last = pos(e);
    const now = performance.now();
    if (now - lastSent >= 10) { lastSent = now; input({}); }   // the reference client's 10 ms throttle
  });
  canvas.addEventListener('mousedown', (e) => { last = pos(e); canvas.focus(); input(e.button === 2 ? { is_right_click: true } : { is_left_click: true }); });
  canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  canvas.addEventListener('wheel', (e) => { e.preventDefault(); input({ wheel_delta_x: e.deltaX, wheel_delta_y: e.deltaY }); }, { passive: false });
  canvas.addEventListener('keydown', (e) => { e.preventDefault(); if (!e.repeat) input({ keys_down: [e.key] }); });
  canvas.addEventListener('keyup', (e) => { e.preventDefault(); input({ keys_up: [e.key] }); });
  stepsInput.addEventListener('input', () => { stepsValue.textContent = stepsInput.value; send({ type: 'update_sampling_steps', steps: Number(stepsInput.value) }); });
  document.getElementById('reset').addEventListener('click', () => send({ type: 'reset' }));
})();
