// Numbers, money and dates as people read them, in the OS locale the app reports (`formats`),
// through Intl: the same CLDR formats the CLI prints, whatever language the webview defaults to.
let locale = "en-US";

/** Formats from now on follow `tag` (BCP 47, e.g. `de-DE`). */
export function useLocale(tag: string) {
  locale = tag;
}

/** `8000` → `8,000` (en-US), `8.000` (de-DE). */
export const count = (n: number) => new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(n);

/** A large count in short: `300M`, `300 Mio.`; below 10,000 as `count` writes it. */
export const short = (n: number) =>
  n < 10_000 ? count(n) : new Intl.NumberFormat(locale, { notation: "compact" }).format(n);

/** `n` with exactly `digits` decimals. */
export const decimal = (n: number, digits: number) =>
  new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(n);

/** `amount` in `currency` (ISO 4217), in the locale's pattern: `$1,234.50`, `1.234,50 €`. */
export const money = (amount: number, currency: string) =>
  new Intl.NumberFormat(locale, { style: "currency", currency }).format(amount);

/** The local date of an RFC 3339 time, as the CLI writes it: `Dec 8, 2026`, `08.12.2026`. */
export const date = (iso: string) => new Date(iso).toLocaleDateString(locale, { dateStyle: "medium" });

/** The local date and time, to the minute: `Dec 8, 2026, 2:05 PM`, `08.12.2026, 14:05`. */
export const dateTime = (iso: string) => new Date(iso).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });

/** The local time of day, to the minute or second. */
export const time = (iso: string, seconds = false) =>
  new Date(iso).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}) });
