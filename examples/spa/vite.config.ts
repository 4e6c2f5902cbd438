// Vite dev server for the example SPA. The page and the BFF share ONE origin (http://localhost:5173 by default):
// Vite serves the page and forwards /auth/* and /api/* to the BFF functions under `cargo lambda watch`.
// The proxy is deliberately transparent: the browser's Host and Origin headers are kept (changeOrigin: false),
// Cookie / Set-Cookie / Location pass through unchanged, and no CORS headers are added (cors: false) —
// none are needed on a single origin.
// Instances (issue 16): the app is also served on `<instance>.localhost:<port>` (acme.localhost, globex.localhost),
// which the BFF reads from the Host header to choose the ERP.net instance. Vite's host check lets every
// `*.localhost` through without `allowedHosts` (vite 8.3.8, host-validation-middleware: "localhost" and names
// ending in ".localhost" are always allowed), and the proxy keeps the browser's Host (changeOrigin: false), so the
// BFF sees `globex.localhost:5173`, not its own address.
import { defineConfig, type ProxyOptions } from 'vite';

const target = process.env.BFF_TARGET || 'http://127.0.0.1:9000';
const port = Number(process.env.SPA_PORT || 5173);

// A regex key (leading ^) so that only /auth, /auth/…, /api and /api/… are forwarded — not e.g. /authors.
const bff: ProxyOptions = { target, changeOrigin: false, xfwd: false, ws: false };
const proxy = { '^/(?:auth|api)(?:[/?]|$)': bff };

export default defineConfig({
  server: { host: 'localhost', port, strictPort: true, cors: false, proxy },
  preview: { host: 'localhost', port, strictPort: true, cors: false, proxy },
  build: { outDir: 'dist', emptyOutDir: true },
});
