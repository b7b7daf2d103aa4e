import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { api } from "./api";
import { useLocale } from "./format";

// Formats follow the OS locale, as the CLI's do; without an answer, the webview's defaults.
api
  .formats()
  .then((formats) => useLocale(formats.locale))
  .catch(() => {})
  .finally(() => mount(App, { target: document.getElementById("app")! }));
