// The AI12Z page's client calls, run with node and socket.io-client v4 from npm:
//   node ai12z_client.mjs <url> <transports, comma-separated> <question> [<follow-up>]
// Asks the question (and the follow-up with the conversationId end_response gave), printing one JSON
// line per answer: the tokens received and the end_response.
import { io } from "socket.io-client";

const [url, transports, ...questions] = process.argv.slice(2);
const socket = io.connect(url, { transports: transports.split(","), reconnection: false });
let conversationId = "";
const ask = (query) =>
  new Promise((resolve, reject) => {
    const tokens = [];
    const timer = setTimeout(() => reject(new Error("no end_response within 30 s")), 30000);
    socket.on("response", (event) => tokens.push(event.data));
    socket.once("end_response", (data) => {
      clearTimeout(timer);
      socket.off("response");
      conversationId = data.conversationId || conversationId;
      resolve({ tokens, end: data, transport: socket.io.engine.transport.name });
    });
    socket.emit("evaluate_query", { apiKey: "", query, conversationId, event: "evaluate_query", base64Images: [] });
  });

socket.on("connect", async () => {
  try {
    for (const q of questions) console.log(JSON.stringify(await ask(q)));
    socket.close();
  } catch (err) {
    console.error(String(err));
    process.exit(1);
  }
});
socket.on("connect_error", (err) => {
  console.error("connect_error " + err.message);
  process.exit(1);
});
