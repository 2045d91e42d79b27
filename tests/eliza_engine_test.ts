/**
 * The ELIZA engine on its own: reflection, ranking, cycling, synonyms,
 * memory, goto, quit words, and a clear error for a broken script.
 */
import { Eliza } from "../servlets/eliza/engine.ts";
import { DOCTOR } from "../servlets/eliza/doctor.ts";
import { checkScript, type ElizaScript } from "../servlets/eliza/script.ts";
import { assertEquals, assertThrows } from "./assert.ts";

function talk(lines: string[], script: ElizaScript = DOCTOR): string[] {
  const eliza = new Eliza(script);
  const session = eliza.newSession();
  return lines.map((line) => eliza.respond(session, line).text);
}

Deno.test("eliza engine: pronouns are reflected (I am -> you are, my -> your, me -> you)", () => {
  assertEquals(talk(["I am a human being"]), ["How long have you been a human being?"]);
  assertEquals(talk(["I think my boss is unfair to me"]), ["Your boss is unfair to you?"]);
  assertEquals(talk(["You hate me"]), ["Why do you think I hate you?"]);
  assertEquals(talk(["You are like my father"]), ["In what way?"], "like (rank 10) goes to alike");
});

Deno.test("eliza engine: replies of a decomposition are used in turn, then again from the first", () => {
  assertEquals(talk(["sorry", "sorry", "sorry", "sorry"]), [
    "Please don't apologise.",
    "Apologies are not necessary.",
    "I've told you that apologies are not required.",
    "Please don't apologise.",
  ]);
});

Deno.test("eliza engine: the highest ranked keyword wins, wherever it stands", () => {
  // "computer" (rank 50) beats "i" (rank 0) and "my" (rank 2).
  assertEquals(talk(["I think my computer hates me"]), ["Do computers worry you?"]);
});

Deno.test("eliza engine: synonym groups match in patterns (@family, @sad, @desire)", () => {
  assertEquals(talk(["My dad ignores me"]), ["Tell me more about your family."]);
  assertEquals(talk(["I am very depressed"]), ["I am sorry to hear that you are depressed."]);
  assertEquals(talk(["I need a holiday"]), ["What would it mean to you if you got a holiday?"]);
});

Deno.test("eliza engine: pre-substitutions normalise the input (dont, i'm, maybe, machine)", () => {
  assertEquals(talk(["I'm tired"]), ["How long have you been tired?"]);
  assertEquals(talk(["maybe"]), ["You don't seem quite certain."]);
  assertEquals(talk(["the machine scares me"]), ["Do computers worry you?"]);
});

Deno.test("eliza engine: memory brings back an earlier topic when no keyword matches", () => {
  assertEquals(talk(["My job is boring", "hmm", "hmm"]), [
    "Your job is boring?",
    "Let's discuss further why your job is boring.",
    "I'm not sure I understand you fully.",
  ]);
});

Deno.test("eliza engine: goto hands the input to another keyword's rules", () => {
  assertEquals(talk(["why is the sky blue"]), ["Why do you ask?"]);
});

Deno.test("eliza engine: quit words end the session, whole and in any case", () => {
  const eliza = new Eliza(DOCTOR);
  const session = eliza.newSession();
  assertEquals(eliza.respond(session, "Bye!"), {
    text: "Goodbye. It was nice talking to you.",
    quit: true,
  });
  assertEquals(eliza.respond(session, "bye bye now").quit, false);
});

Deno.test("eliza engine: two sessions of one engine share nothing", () => {
  const eliza = new Eliza(DOCTOR);
  const a = eliza.newSession();
  const b = eliza.newSession();
  eliza.respond(a, "My car is broken");
  assertEquals(eliza.respond(b, "hmm").text, "I'm not sure I understand you fully.");
  assertEquals(eliza.respond(a, "hmm").text, "Let's discuss further why your car is broken.");
});

Deno.test("eliza engine: a script whose goto names no keyword is refused", () => {
  const broken: ElizaScript = {
    ...DOCTOR,
    keywords: [{ word: "x", decompositions: [{ pattern: "*", replies: ["goto nowhere"] }] }],
  };
  assertThrows(() => new Eliza(broken), /keyword "x": "goto nowhere" names no keyword/);
});

Deno.test("eliza script check: the DOCTOR script passes, and a broken one is named by its place", () => {
  assertEquals(checkScript(structuredClone(DOCTOR)).keywords.length, DOCTOR.keywords.length);
  const broken = (patch: Record<string, unknown>): unknown => ({
    ...structuredClone(DOCTOR),
    ...patch,
  });
  assertThrows(
    () =>
      checkScript(
        broken({ keywords: [{ word: "x", decompositions: [{ pattern: "*", replies: [] }] }] }),
      ),
    /keywords\[0\]\.decompositions\[0\]\.replies must not be empty/,
  );
  assertThrows(
    () =>
      checkScript(
        broken({
          keywords: [{ word: "x", decompositions: [{ pattern: "* x", replies: ["(5)?"] }] }],
        }),
      ),
    /uses \(5\) but "\* x" has 1 part\(s\)/,
  );
  assertThrows(
    () => checkScript(broken({ pre: { dont: 1 } })),
    /pre must be an object of words to words/,
  );
  assertThrows(
    () => checkScript(broken({ keywords: [{ word: "x" }] })),
    /keywords\[0\]\.decompositions must be an array/,
  );
  assertThrows(() => checkScript(null), /a script is a JSON object/);
});
