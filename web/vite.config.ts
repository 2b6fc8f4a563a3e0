import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The console is served by `commonsnet serve` from the files this build writes to `dist/`
// (embedded into the binary by `api/build.rs`). Under its Content-Security-Policy
// (`script-src 'self'; style-src 'self'`) nothing may be inlined: no data: URLs for assets, no
// inline module-preload polyfill, CSS in files.
export default defineConfig({
  plugins: [svelte({ compilerOptions: { css: 'external' } })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    rollupOptions: {
      // The service worker (`src/sw.ts`) is an entry of its own at `/sw.js`: a worker's scope is
      // the folder of its script, and the console's is `/`. It imports only `offline.ts`, which
      // the page does not, so it is one classic script without imports.
      input: { index: 'index.html', sw: 'src/sw.ts' },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
  server: {
    // `npm run dev` against a local `commonsnet serve` on 8080.
    proxy: { '/v1': 'http://127.0.0.1:8080', '/healthz': 'http://127.0.0.1:8080' },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
