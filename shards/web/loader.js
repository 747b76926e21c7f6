/* Switchboard chat loader: puts a chat button on the page; it opens the widget in an isolated iframe.
   <script src="https://chat.example.com/loader.js" data-server="wss://chat.example.com/ws"
           data-lang="zh|en" async></script>
   data-server: the WebSocket endpoint (empty: the server this script came from); data-lang: the
   widget's language (default: the browser's); data-position: right (default) or left. */
(function () {
  var me = document.currentScript;
  if (!me || window.__switchboardLoader) return;
  window.__switchboardLoader = 1;
  var d = me.dataset, src = new URL(me.src, location.href);
  var server = d.server || (src.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + src.host + '/ws';
  var origin = new URL(server.replace(/^ws/, 'http')).origin;
  var lang = d.lang || ((navigator.language || '').toLowerCase().indexOf('zh') ? 'en' : 'zh');
  var zh = lang === 'zh', side = d.position === 'left' ? 'left' : 'right';
  var label = zh ? ['打开在线客服', '关闭在线客服', '在线客服'] : ['Open customer chat', 'Close customer chat', 'Customer chat'];

  // A shadow root keeps the page's styles off the button (and ours off the page).
  var host = document.createElement('div');
  host.id = 'switchboard-chat';
  var root = host.attachShadow({ mode: 'open' });
  root.innerHTML = '<style>' +
    ':host{all:initial}' +
    'button{position:fixed;bottom:20px;' + side + ':20px;z-index:2147483000;width:56px;height:56px;border-radius:50%;border:0;' +
    'background:#2f5bea;color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer;display:grid;place-items:center}' +
    'button:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}' +
    'svg{width:28px;height:28px;fill:currentColor}' +
    'iframe{position:fixed;bottom:88px;' + side + ':20px;z-index:2147483000;width:370px;height:560px;' +
    'max-width:calc(100vw - 40px);max-height:calc(100vh - 110px);border:1px solid #d9dde5;border-radius:12px;' +
    'box-shadow:0 8px 30px rgba(0,0,0,.2);background:#fff}' +
    '</style><button type="button" aria-expanded="false" aria-controls="f">' +
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg></button>';
  var button = root.querySelector('button'), frame;
  button.setAttribute('aria-label', label[0]);

  function toggle(open) {
    if (open && !frame) {
      frame = document.createElement('iframe');
      frame.id = 'f';
      frame.title = label[2];
      frame.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-forms allow-popups');
      frame.src = origin + '/widget?lang=' + lang + '&server=' + encodeURIComponent(server);
      frame.onload = function () { if (!frame.hidden) frame.contentWindow.postMessage({ switchboard: 'focus' }, origin); };
      root.insertBefore(frame, button);
    } else if (frame) {
      frame.hidden = !open;
      if (open) frame.contentWindow.postMessage({ switchboard: 'focus' }, origin);
    }
    button.setAttribute('aria-expanded', String(open));
    button.setAttribute('aria-label', label[open ? 1 : 0]);
    if (!open) button.focus();
  }
  button.onclick = function () { toggle(!frame || frame.hidden); };
  // The widget asks to close (Escape); only our iframe is listened to.
  addEventListener('message', function (e) {
    if (frame && e.source === frame.contentWindow && e.origin === origin && e.data && e.data.switchboard === 'close') toggle(false);
  });
  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else addEventListener('DOMContentLoaded', mount);
})();
