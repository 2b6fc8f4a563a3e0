import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
export default mount(App, { target });

// The service worker keeps the console and the last reads of sessions for a reload without a
// network (`sw.ts`). Browsers offer it over HTTPS and on localhost only; elsewhere (plain HTTP
// on a LAN) the console works as before, online.
if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js').catch(() => undefined);
}
