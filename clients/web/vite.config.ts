// The chat page, built into the gateway package (`make web`): the gateway serves it at /.
import { fileURLToPath } from "node:url";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const sdk = (file: string): string => fileURLToPath(new URL(`../ts/src/${file}`, import.meta.url));

export default defineConfig({
  plugins: [react()],
  base: "/",
  resolve: {
    // The SDK from source (its own folder has its dependencies); one React for page and hook.
    alias: [
      { find: /^@parley\/client\/react$/, replacement: sdk("react.ts") },
      { find: /^@parley\/client$/, replacement: sdk("index.ts") },
    ],
    dedupe: ["react", "react-dom"],
  },
  build: {
    outDir: fileURLToPath(new URL("../../services/gateway/parley_gateway/web", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev` next to `make run`: the page on Vite, everything else on the gateway.
    proxy: {
      "/api": "http://127.0.0.1:8000",
      "/socket.io": { target: "ws://127.0.0.1:8000", ws: true },
    },
  },
});
