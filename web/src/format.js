// Small pure helpers for display: names, initials, colours, times.

/** @param {{display_name?: string, username?: string} | null | undefined} user */
export function displayName(user, fallback = '…') {
  return user?.display_name || user?.username || fallback;
}

/** "Alice Liddell" -> "AL", "bob" -> "B" */
export function initials(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((w) => [...w][0] ?? '').join('').toUpperCase() || '?';
}

const HUES = [212, 262, 330, 16, 38, 150, 180, 290];

/** A stable hue for an id, so a person keeps their colour everywhere. */
export function hueFor(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return HUES[h % HUES.length];
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long' });
const shortWeekday = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDate = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

export const clock = (ts) => timeFormat.format(ts);
export const fullTime = (ts) => fullFormat.format(ts);

function startOfDay(ts) {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function sameDay(a, b) {
  return startOfDay(a) === startOfDay(b);
}

function daysAgo(ts, now = Date.now()) {
  return Math.round((startOfDay(now) - startOfDay(ts)) / 86_400_000);
}

/** Day separator label: "Today", "Yesterday", "Monday", "Monday, 3 March 2025". */
export function dayLabel(ts, now = Date.now()) {
  const days = daysAgo(ts, now);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days < 7) return weekdayFormat.format(ts);
  return longDate.format(ts);
}

/** Conversation list time: "14:05", "Yesterday", "Mon", "3 Mar". */
export function listTime(ts, now = Date.now()) {
  if (!ts) return '';
  const days = daysAgo(ts, now);
  if (days === 0) return clock(ts);
  if (days === 1) return 'Yesterday';
  if (days < 7) return shortWeekday.format(ts);
  return dateFormat.format(ts);
}

/** "last seen 5 minutes ago" */
export function lastSeen(ts, now = Date.now()) {
  if (!ts) return 'offline';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return 'last seen just now';
  const m = Math.round(s / 60);
  if (m < 60) return `last seen ${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24 && sameDay(ts, now)) return `last seen today at ${clock(ts)}`;
  if (daysAgo(ts, now) === 1) return `last seen yesterday at ${clock(ts)}`;
  return `last seen ${dateFormat.format(ts)}`;
}

/** Splits text into plain and link parts, for rendering links without innerHTML. */
export function linkify(text) {
  const parts = [];
  const re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
  let last = 0;
  for (let m; (m = re.exec(text));) {
    if (m.index > last) parts.push({ text: text.slice(last, m.index) });
    parts.push({ text: m[0], href: m[0] });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** Only emoji, at most three: shown big. */
export function isJumbo(text) {
  if (!text || text.length > 24) return false;
  const stripped = text.replace(/\s/g, '');
  return /^(\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0f)+$/u.test(stripped) &&
    [...new Intl.Segmenter().segment(stripped)].length <= 3;
}
