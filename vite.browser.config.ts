import { defineConfig } from 'vite';

// The runtime and the model for the page (browser mode); Node-only modules stay unreachable there.
export default defineConfig({
  build: {
    lib: { entry: 'app/web/browser.ts', formats: ['es'], fileName: () => 'browser.js' },
    outDir: 'dist/web',
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    rollupOptions: { external: ['webgpu', 'koffi'] },
  },
});
