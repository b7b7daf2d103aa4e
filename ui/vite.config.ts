import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// Bundled assets only: the app never loads anything from the network.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, cssCodeSplit: false },
});
