/**
 * The DOCTOR script: a Rogerian psychotherapist in the manner of Joseph
 * Weizenbaum's 1966 script for ELIZA, written for plumb. Keywords carry
 * ranks, each keyword's decompositions are tried in order and their replies
 * are used in turn, `my` feeds the memory, and `@group` patterns use the
 * synonym groups.
 * @module
 */
import type { ElizaScript } from "./script.ts";

/** The DOCTOR script. */
export const DOCTOR: ElizaScript = {
  greetings: ["How do you do. Please tell me your problem."],
  farewells: [
    "Goodbye. It was nice talking to you.",
    "Goodbye. Thank you for talking to me.",
  ],
  quit: ["bye", "goodbye", "quit", "exit"],
  pre: {
    dont: "don't",
    cant: "can't",
    wont: "won't",
    recollect: "remember",
    dreamt: "dreamed",
    dreams: "dream",
    maybe: "perhaps",
    how: "what",
    when: "what",
    certainly: "yes",
    machine: "computer",
    computers: "computer",
    were: "was",
    "you're": "you are",
    "i'm": "i am",
    "i've": "i have",
    "i'd": "i would",
    same: "alike",
    identical: "alike",
    equivalent: "alike",
  },
  post: {
    am: "are",
    your: "my",
    me: "you",
    myself: "yourself",
    yourself: "myself",
    i: "you",
    you: "I",
    my: "your",
    "i'm": "you are",
    are: "am",
    was: "were",
    mine: "yours",
    yours: "mine",
  },
  synonyms: {
    belief: ["feel", "think", "believe", "wish"],
    family: [
      "mother",
      "mom",
      "father",
      "dad",
      "sister",
      "brother",
      "wife",
      "husband",
      "children",
      "child",
    ],
    desire: ["want", "need"],
    sad: ["unhappy", "depressed", "sick", "miserable"],
    happy: ["elated", "glad", "better"],
    cannot: ["can't"],
    everyone: ["everybody", "nobody", "noone"],
    be: ["am", "is", "are", "was"],
  },
  keywords: [
    {
      word: "sorry",
      decompositions: [{
        pattern: "*",
        replies: [
          "Please don't apologise.",
          "Apologies are not necessary.",
          "I've told you that apologies are not required.",
        ],
      }],
    },
    {
      word: "apologise",
      decompositions: [{ pattern: "*", replies: ["goto sorry"] }],
    },
    {
      word: "remember",
      rank: 5,
      decompositions: [
        {
          pattern: "* i remember *",
          replies: [
            "Do you often think of (2)?",
            "Does thinking of (2) bring anything else to mind?",
            "What else do you recollect?",
            "Why do you recollect (2) just now?",
            "What in the present situation reminds you of (2)?",
          ],
        },
        {
          pattern: "* do you remember *",
          replies: [
            "Did you think I would forget (2)?",
            "Why do you think I should recall (2) now?",
            "What about (2)?",
            "You mentioned (2).",
          ],
        },
        { pattern: "*", replies: ["goto what"] },
      ],
    },
    {
      word: "if",
      rank: 3,
      decompositions: [{
        pattern: "* if *",
        replies: [
          "Do you think it's likely that (2)?",
          "Do you wish that (2)?",
          "What do you know about (2)?",
          "Really, if (2)?",
        ],
      }],
    },
    {
      word: "dreamed",
      rank: 4,
      decompositions: [{
        pattern: "* i dreamed *",
        replies: [
          "Really, (2)?",
          "Have you ever fantasized (2) while you were awake?",
          "Have you ever dreamed (2) before?",
          "goto dream",
        ],
      }],
    },
    {
      word: "dream",
      rank: 3,
      decompositions: [{
        pattern: "*",
        replies: [
          "What does that dream suggest to you?",
          "Do you dream often?",
          "What persons appear in your dreams?",
          "Do you believe that dreams have something to do with your problem?",
        ],
      }],
    },
    {
      word: "perhaps",
      decompositions: [{
        pattern: "*",
        replies: [
          "You don't seem quite certain.",
          "Why the uncertain tone?",
          "Can't you be more positive?",
          "You aren't sure?",
          "Don't you know?",
        ],
      }],
    },
    {
      word: "name",
      rank: 15,
      decompositions: [{
        pattern: "*",
        replies: [
          "I am not interested in names.",
          "I've told you before, I don't care about names.",
        ],
      }],
    },
    {
      word: "hello",
      decompositions: [{
        pattern: "*",
        replies: [
          "How do you do. Please state your problem.",
          "Hi. What seems to be your problem?",
        ],
      }],
    },
    {
      word: "hi",
      decompositions: [{ pattern: "*", replies: ["goto hello"] }],
    },
    {
      word: "computer",
      rank: 50,
      decompositions: [{
        pattern: "*",
        replies: [
          "Do computers worry you?",
          "Why do you mention computers?",
          "What do you think machines have to do with your problem?",
          "Don't you think computers can help people?",
          "What about machines worries you?",
          "What do you think about machines?",
        ],
      }],
    },
    {
      word: "am",
      decompositions: [
        {
          pattern: "* am i *",
          replies: [
            "Do you believe you are (2)?",
            "Would you want to be (2)?",
            "Do you wish I would tell you you are (2)?",
            "What would it mean if you were (2)?",
            "goto what",
          ],
        },
        { pattern: "*", replies: ["Why do you say 'am'?", "I don't understand that."] },
      ],
    },
    {
      word: "are",
      decompositions: [
        {
          pattern: "* are you *",
          replies: [
            "Why are you interested in whether I am (2) or not?",
            "Would you prefer if I weren't (2)?",
            "Perhaps I am (2) in your fantasies.",
            "Do you sometimes think I am (2)?",
            "goto what",
          ],
        },
        {
          pattern: "* are *",
          replies: [
            "Did you think they might not be (2)?",
            "Would you like it if they were not (2)?",
            "What if they were not (2)?",
            "Possibly they are (2).",
          ],
        },
      ],
    },
    {
      word: "your",
      decompositions: [{
        pattern: "* your *",
        replies: [
          "Why are you concerned over my (2)?",
          "What about your own (2)?",
          "Are you worried about someone else's (2)?",
          "Really, my (2)?",
        ],
      }],
    },
    {
      word: "was",
      rank: 2,
      decompositions: [
        {
          pattern: "* was i *",
          replies: [
            "What if you were (2)?",
            "Do you think you were (2)?",
            "Were you (2)?",
            "What would it mean if you were (2)?",
            "What does (2) suggest to you?",
            "goto what",
          ],
        },
        {
          pattern: "* i was *",
          replies: [
            "Why do you tell me you were (2) now?",
            "Were you really?",
            "Perhaps I already know you were (2).",
          ],
        },
        {
          pattern: "* was you *",
          replies: [
            "Would you like to believe I was (2)?",
            "What suggests that I was (2)?",
            "What do you think?",
            "Perhaps I was (2).",
            "What if I had been (2)?",
          ],
        },
      ],
    },
    {
      word: "i",
      decompositions: [
        {
          pattern: "* i @desire *",
          replies: [
            "What would it mean to you if you got (3)?",
            "Why do you want (3)?",
            "Suppose you got (3) soon.",
            "What if you never got (3)?",
            "What would getting (3) mean to you?",
          ],
        },
        {
          pattern: "* i am * @sad *",
          replies: [
            "I am sorry to hear that you are (3).",
            "Do you think coming here will help you not to be (3)?",
            "I'm sure it's not pleasant to be (3).",
            "Can you explain what made you (3)?",
          ],
        },
        {
          pattern: "* i am * @happy *",
          replies: [
            "How have I helped you to be (3)?",
            "Has your treatment made you (3)?",
            "What makes you (3) just now?",
            "Can you explain why you are suddenly (3)?",
          ],
        },
        {
          pattern: "* i @belief i *",
          replies: [
            "Do you really think so?",
            "But you are not sure you (3).",
            "Do you really doubt you (3)?",
          ],
        },
        {
          pattern: "* i @belief * you *",
          replies: ["goto you"],
        },
        {
          pattern: "* i am *",
          replies: [
            "How long have you been (2)?",
            "Is it because you are (2) that you came to me?",
            "Do you believe it is normal to be (2)?",
            "Do you enjoy being (2)?",
          ],
        },
        {
          pattern: "* i @cannot *",
          replies: [
            "How do you know that you can't (3)?",
            "Have you tried?",
            "Perhaps you could (3) now.",
            "Do you really want to be able to (3)?",
          ],
        },
        {
          pattern: "* i don't *",
          replies: [
            "Don't you really (2)?",
            "Why don't you (2)?",
            "Do you wish to be able to (2)?",
            "Does that trouble you?",
          ],
        },
        {
          pattern: "* i feel *",
          replies: [
            "Tell me more about such feelings.",
            "Do you often feel (2)?",
            "Do you enjoy feeling (2)?",
            "Of what does feeling (2) remind you?",
          ],
        },
        {
          pattern: "* i * you *",
          replies: [
            "Perhaps in your fantasies we (2) each other.",
            "Do you wish to (2) me?",
            "You seem to need to (2) me.",
            "Do you (2) anyone else?",
          ],
        },
        {
          pattern: "*",
          replies: [
            "You say (1)?",
            "Can you elaborate on that?",
            "Do you say (1) for some special reason?",
            "That's quite interesting.",
          ],
        },
      ],
    },
    {
      word: "you",
      decompositions: [
        {
          pattern: "* you remind me of *",
          replies: ["goto alike"],
        },
        {
          pattern: "* you are *",
          replies: [
            "What makes you think I am (2)?",
            "Does it please you to believe I am (2)?",
            "Do you sometimes wish you were (2)?",
            "Perhaps you would like to be (2).",
          ],
        },
        {
          pattern: "* you * me *",
          replies: [
            "Why do you think I (2) you?",
            "You like to think I (2) you, don't you?",
            "What makes you think I (2) you?",
            "Really, I (2) you?",
            "Do you wish to believe I (2) you?",
            "Suppose I did (2) you. What would that mean?",
            "Does someone else believe I (2) you?",
          ],
        },
        {
          pattern: "* you *",
          replies: [
            "We were discussing you, not me.",
            "Oh, I (2)?",
            "You're not really talking about me, are you?",
            "What are your feelings now?",
          ],
        },
      ],
    },
    {
      word: "yes",
      decompositions: [{
        pattern: "*",
        replies: ["You seem to be quite positive.", "You are sure.", "I see.", "I understand."],
      }],
    },
    {
      word: "no",
      decompositions: [{
        pattern: "*",
        replies: [
          "Are you saying no just to be negative?",
          "You are being a bit negative.",
          "Why not?",
          "Why 'no'?",
        ],
      }],
    },
    {
      word: "my",
      rank: 2,
      decompositions: [
        {
          pattern: "* my *",
          memory: true,
          replies: [
            "Let's discuss further why your (2).",
            "Earlier you said your (2).",
            "But your (2).",
            "Does that have anything to do with the fact that your (2)?",
          ],
        },
        {
          pattern: "* my * @family *",
          replies: [
            "Tell me more about your family.",
            "Who else in your family (4)?",
            "Your (3)?",
            "What else comes to mind when you think of your (3)?",
          ],
        },
        {
          pattern: "* my *",
          replies: [
            "Your (2)?",
            "Why do you say your (2)?",
            "Does that suggest anything else which belongs to you?",
            "Is it important to you that your (2)?",
          ],
        },
      ],
    },
    {
      word: "can",
      decompositions: [
        {
          pattern: "* can you *",
          replies: [
            "You believe I can (2), don't you?",
            "goto what",
            "You want me to be able to (2).",
            "Perhaps you would like to be able to (2) yourself.",
          ],
        },
        {
          pattern: "* can i *",
          replies: [
            "Whether or not you can (2) depends on you more than on me.",
            "Do you want to be able to (2)?",
            "Perhaps you don't want to (2).",
            "goto what",
          ],
        },
      ],
    },
    {
      word: "what",
      decompositions: [{
        pattern: "*",
        replies: [
          "Why do you ask?",
          "Does that question interest you?",
          "What is it you really want to know?",
          "Are such questions much on your mind?",
          "What answer would please you most?",
          "What do you think?",
          "What comes to mind when you ask that?",
          "Have you asked such questions before?",
          "Have you asked anyone else?",
        ],
      }],
    },
    {
      word: "because",
      decompositions: [{
        pattern: "*",
        replies: [
          "Is that the real reason?",
          "Don't any other reasons come to mind?",
          "Does that reason seem to explain anything else?",
          "What other reasons might there be?",
        ],
      }],
    },
    {
      word: "why",
      decompositions: [
        {
          pattern: "* why don't you *",
          replies: [
            "Do you believe I don't (2)?",
            "Perhaps I will (2) in good time.",
            "Should you (2) yourself?",
            "You want me to (2)?",
            "goto what",
          ],
        },
        {
          pattern: "* why can't i *",
          replies: [
            "Do you think you should be able to (2)?",
            "Do you want to be able to (2)?",
            "Do you believe this will help you to (2)?",
            "Have you any idea why you can't (2)?",
            "goto what",
          ],
        },
        { pattern: "*", replies: ["goto what"] },
      ],
    },
    {
      word: "everyone",
      rank: 2,
      decompositions: [{
        pattern: "* @everyone *",
        replies: [
          "Really, (2)?",
          "Surely not (2).",
          "Can you think of anyone in particular?",
          "Who, for example?",
          "Are you thinking of a very special person?",
          "Who, may I ask?",
          "Someone special perhaps?",
          "You have a particular person in mind, don't you?",
          "Who do you think you're talking about?",
        ],
      }],
    },
    {
      word: "everybody",
      rank: 2,
      decompositions: [{ pattern: "*", replies: ["goto everyone"] }],
    },
    {
      word: "nobody",
      rank: 2,
      decompositions: [{ pattern: "*", replies: ["goto everyone"] }],
    },
    {
      word: "always",
      rank: 1,
      decompositions: [{
        pattern: "*",
        replies: [
          "Can you think of a specific example?",
          "When?",
          "What incident are you thinking of?",
          "Really, always?",
        ],
      }],
    },
    {
      word: "alike",
      rank: 10,
      decompositions: [{
        pattern: "*",
        replies: [
          "In what way?",
          "What resemblance do you see?",
          "What does that similarity suggest to you?",
          "What other connections do you see?",
          "What do you suppose that resemblance means?",
          "What is the connection, do you suppose?",
          "Could there really be some connection?",
          "How?",
        ],
      }],
    },
    {
      word: "like",
      rank: 10,
      decompositions: [
        { pattern: "* @be * like *", replies: ["goto alike"] },
      ],
    },
    {
      word: "different",
      decompositions: [{
        pattern: "*",
        replies: [
          "How is it different?",
          "What differences do you see?",
          "What does that difference suggest to you?",
          "What other distinctions do you see?",
          "What do you suppose that disparity means?",
        ],
      }],
    },
  ],
  fallbacks: [
    "I'm not sure I understand you fully.",
    "Please go on.",
    "What does that suggest to you?",
    "Do you feel strongly about discussing such things?",
    "That is interesting. Please continue.",
    "Tell me more about that.",
    "Does talking about this bother you?",
  ],
};
