/**
 * The chat's web page: served to a browser that asks for `/`, it opens a
 * WebSocket to the same address and shows the room's lines.
 * @module
 */

/** The page, as served (UTF-8). */
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>plumb chat</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }
  #log { flex: 1; overflow-y: auto; margin: 0; padding: 0.5em 1em; white-space: pre-wrap; font-family: ui-monospace, monospace; }
  form { display: flex; border-top: 1px solid #ccc; }
  #line { flex: 1; font: inherit; padding: 0.5em 1em; border: 0; }
  #state { padding: 0.5em 1em; color: #666; }
</style>
</head>
<body>
<pre id="log" aria-live="polite"></pre>
<form id="form"><input id="line" autocomplete="off" autofocus placeholder="your nickname, then lines; /who /nick /me /quit"><span id="state">connecting</span></form>
<script>
  const log = document.getElementById("log");
  const line = document.getElementById("line");
  const state = document.getElementById("state");
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chat");
  ws.onopen = () => { state.textContent = "connected"; };
  ws.onclose = (event) => { state.textContent = "closed (" + event.code + ")"; };
  ws.onmessage = (event) => {
    log.append(event.data + "\\n");
    log.scrollTop = log.scrollHeight;
  };
  document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    if (ws.readyState === WebSocket.OPEN) ws.send(line.value);
    line.value = "";
  };
</script>
</body>
</html>
`;
