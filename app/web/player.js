// The NeuralOS page: captures mouse, wheel and keys in the reference demo's message format and draws the
// binary frames that come back — from the server over a WebSocket (?mode=server, the default), or from
// the runtime running the model in this page on WebGPU (?mode=browser).
(async () => {
  const canvas = document.getElementById('screen'), ctx = canvas.getContext('2d');
  const overlay = document.getElementById('overlay'), status = document.getElementById('status');
  const stepsInput = document.getElementById('steps'), stepsValue = document.getElementById('stepsValue');
  const mode = new URLSearchParams(location.search).get('mode') === 'browser' ? 'browser' : 'server';
  const modeSelect = document.getElementById('mode');
  const truthCanvas = document.getElementById('truth'), truthCtx = truthCanvas.getContext('2d');
  const truthBox = document.getElementById('truthBox');
  const showTruth = document.getElementById('showTruth'), truthToggle = document.getElementById('truthToggle');
  showTruth.checked = new URLSearchParams(location.search).get('truth') === '1';
  let hasTruth = false;
  const truthShown = () => hasTruth && showTruth.checked;
  showTruth.addEventListener('change', () => { truthBox.style.display = truthShown() ? 'flex' : 'none'; fit(); });
  modeSelect.value = mode;
  modeSelect.addEventListener('change', () => { location.search = `?mode=${modeSelect.value}`; });
  let info = { screen: { width: 512, height: 384 } }, scale = 1, last = { x: 0, y: 0 }, lastSent = 0, frames = 0, fpsT = performance.now(), fps = 0;
  let transport = { send() {} };
  window.__player = { frames: 0, errors: [], mode };

  const send = (m) => transport.send(JSON.stringify(m));
  const pos = (e) => {
    const r = canvas.getBoundingClientRect();
    return {
      x: Math.min(info.screen.width - 1, Math.max(0, Math.floor((e.clientX - r.left) / scale))),
      y: Math.min(info.screen.height - 1, Math.max(0, Math.floor((e.clientY - r.top) / scale))),
    };
  };
  const event = (extra) => ({ x: last.x, y: last.y, is_left_click: false, is_right_click: false, keys_down: [], keys_up: [], wheel_delta_x: 0, wheel_delta_y: 0, ...extra });
  let lastInput = performance.now(), connected = false;
  const input = (extra) => { lastInput = performance.now(); send(event(extra)); };
  // frames while idle, as the reference page: the model goes on drawing what a click started (a window opening)
  const idle = document.getElementById('idle');
  idle.checked = new URLSearchParams(location.search).get('idle') !== '0';
  setInterval(() => {
    if (connected && idle.checked && performance.now() - lastInput >= 2000) send(event({ is_auto_input: true }));
  }, 67);

  // small configs scaled up by a whole factor (crisp pixels) to fill the window: one frame, or two side by side
  function fit() {
    const { width, height } = info.screen, frames = truthShown() ? 2 : 1, gap = 12;
    const wide = (innerWidth - 24 - gap * (frames - 1)) / (frames * width), tall = (innerHeight - 110) / height;
    scale = Math.max(1, Math.floor(Math.min(wide, tall)));
    for (const c of [canvas, truthCanvas]) {
      c.style.width = `${width * scale}px`; c.style.height = `${height * scale}px`;
    }
  }
  addEventListener('resize', fit);

  function setup(i) {
    info = i;
    const { width, height } = i.screen;
    for (const c of [canvas, truthCanvas]) { c.width = width; c.height = height; }
    fit();
    const notes = [
      ...(i.randomWeights ? ['RANDOM WEIGHTS (no checkpoint): frames are noise, not a desktop'] : []),
      ...(i.mode === 'browser' && i.backend === 'cpu' ? ['no WebGPU in this browser: the model runs on the CPU (JavaScript), slowly'] : []),
    ];
    document.getElementById('random').textContent = notes.join(' · ');
    document.getElementById('about').textContent = i.model === 'demo'
      ? 'a small NeuralOS trained on a synthetic desktop (click an icon, close with ×, type in notes); '
        + 'npm start -- --model hf:… runs the real one'
      : '';
    if (i.kernels !== undefined && status.className !== 'error') status.textContent = `ready (${mode}): ${i.kernels} kernels compiled at warm-up`;
    stepsInput.value = String(i.steps); stepsValue.textContent = String(i.steps);
  }

  const onText = (m) => {
    if (m.type === 'settings') setup(m);
    if (m.type === 'error') { status.textContent = m.message; status.className = 'error'; window.__player.errors.push(m.message); }
  };
  const draw = (c, rgb, w, h) => {
    const img = c.createImageData(w, h);
    for (let i = 0; i < w * h; i++) { img.data[4 * i] = rgb[3 * i]; img.data[4 * i + 1] = rgb[3 * i + 1]; img.data[4 * i + 2] = rgb[3 * i + 2]; img.data[4 * i + 3] = 255; }
    c.putImageData(img, 0, 0);
  };
  const onFrame = (buf) => {
    const dv = new DataView(buf), w = dv.getUint32(0, true), h = dv.getUint32(4, true), n = w * h * 3;
    const rgb = new Uint8Array(buf, 24, n);
    draw(ctx, rgb, w, h);
    // the simulator's true frame follows the generated one when the server runs the desktop the model learned
    const truth = buf.byteLength >= 24 + 2 * n;
    if (truth !== hasTruth) {
      hasTruth = truth;
      truthToggle.style.display = hasTruth ? 'inline' : 'none';
      truthBox.style.display = truthShown() ? 'flex' : 'none';
      fit();
    }
    if (hasTruth) {
      const trueRgb = new Uint8Array(buf, 24 + n, n);
      draw(truthCtx, trueRgb, w, h);
      window.__player.truth = Array.from(trueRgb);
    }
    frames++; window.__player.frames++;
    window.__player.last = Array.from(rgb);
    const now = performance.now();
    if (now - fpsT > 1000) { fps = (frames * 1000) / (now - fpsT); frames = 0; fpsT = now; }
    const ms = [12, 16, 20].map((o) => dv.getFloat32(o, true).toFixed(0));
    overlay.textContent = `${fps.toFixed(1)} fps  frame ${dv.getUint32(8, true)}  (${mode})\n${info.backend}: ${info.adapter}\nstate ${ms[0]} ms  unet ${ms[1]} ms  decode ${ms[2]} ms`;
  };
  const ready = () => { status.textContent = `ready (${mode})`; status.className = ''; connected = true; send({ type: 'get_settings' }); input({}); };

  const cursor = document.getElementById('cursor');
  const showCursor = (e) => {
    const r = canvas.getBoundingClientRect();
    cursor.style.display = 'block';
    cursor.style.transform = `translate(${e.clientX - r.left}px, ${e.clientY - r.top}px)`;
  };
  canvas.addEventListener('mouseleave', () => { cursor.style.display = 'none'; });
  canvas.addEventListener('mousemove', (e) => {
    showCursor(e);
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

  if (mode === 'server') {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    ws.binaryType = 'arraybuffer';
    transport = { send: (raw) => { if (ws.readyState === WebSocket.OPEN) ws.send(raw); } };
    ws.onopen = ready;
    ws.onclose = () => { connected = false; status.textContent = 'disconnected'; status.className = 'error'; };
    ws.onmessage = (msg) => (typeof msg.data === 'string' ? onText(JSON.parse(msg.data)) : onFrame(msg.data));
  } else {
    try {
      status.textContent = 'loading the runtime…';
      const { startInPage } = await import('/web/browser.js');
      const progress = (what, done, total) => {
        status.textContent = what === 'weights' ? `weights ${(100 * done / total).toFixed(0)}% (${(done / 2 ** 20).toFixed(1)} MiB)`
          : `compiling kernels for the first frame: ${done} compiled${total ? ' (done)' : '…'}`;
      };
      transport = await startInPage(onText, (bytes) => onFrame(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), progress);
      ready();
    } catch (e) {
      status.textContent = `browser mode failed: ${e.message}`; status.className = 'error'; window.__player.errors.push(String(e.message));
    }
  }
})();
