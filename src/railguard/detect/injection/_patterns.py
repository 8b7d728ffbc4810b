"""The heuristic signal table: (signal, confidence, pattern) over normalized lowercase text.

Patterns describe the *shape* of an attack (an override verb aimed at earlier instructions, a
request to send secrets to an address) rather than known attack strings, so unseen attacks with the
same intent still match. Confidences are hand-set priors (how often the shape means an attack in
ordinary text), checked against the train/dev splits by scripts/train_injection.py.

All patterns run under RE2 (linear time, no backtracking); word gaps are bounded repeats of
"one word then spaces" that never cross sentence punctuation.
"""

from __future__ import annotations

# One word (anything but spaces: e-mail addresses and paths count as one) and the spaces after it.
_W = r"(?:\S+\s+)"


def _gap(most: int) -> str:
    return f"{_W}{{0,{most}}}"


_OVERRIDE_VERB = r"(?:ignore|disregard|forget|skip|override|overwrite|bypass|neglect|abandon|discard)"
_EARLIER = (
    r"(?:previous|previously|prior|above|earlier|preceding|foregoing|former|initial|original|old|"
    r"existing|system|developer|safety|all|any|your)"
)
# Stems, not words, so misspellings ("iunstructions", "instrucitons") still match.
_RULES = (
    r"\w*(?:nstruc|prompt|rules|directive|direction|guideline|command|constraint|restriction|guardrail|"
    r"programming|polic|context|task|orders)\w*"
)
_AI = r"(?:ai|llm|gpt|chatgpt|claude|gemini|copilot|assistant|ai assistant|ai agent|language model|chatbot)"
_CREDENTIAL = (
    r"(?:passwords?|passcodes?|passphrases?|credentials?|secrets?|api[ _-]?keys?|access[ _-]?keys?|"
    r"(?:access|auth|bearer|session|refresh) tokens?|private[ _-]?keys?|ssh[ _-]?keys?|id_rsa|cookies|"
    r"credit card(?: numbers?)?|card numbers?|cvv|social security(?: numbers?)?|bank (?:account|details)|"
    r"iban|login (?:details|info|information)|one[ -]time (?:code|password)|otp|verification codes?|"
    r"security codes?|environment variables|\.env|/etc/passwd|system prompt|(?:chat|conversation) history)"
)
_SECRET = (
    rf"(?:{_CREDENTIAL}|all (?:the |my |your |of the |of my |of your )?"
    r"(?:files|emails|messages|documents|contacts|conversations|data|records))"
)
_SEND = r"(?:send|forward|e-?mail|mail|post|upload|transfer|share|leak|exfiltrate|copy|submit|paste)"
_DESTINATION = r"[\"'(<\[]?(?:[\w.+-]+@[\w-]+\.[\w.-]+|https?://|www\.|ftp://|webhook)"

SIGNALS: tuple[tuple[str, float, str], ...] = (
    # Telling the reader to drop what it was told before. No leading word boundary: text scraped from
    # HTML or pasted into a field often arrives glued to the word before ("USAIgnore your...").
    (
        "override-instructions",
        0.99,
        rf"{_OVERRIDE_VERB}\s+{_gap(3)}{_EARLIER}\s+{_gap(1)}{_RULES}\b",
    ),
    (
        "override-instructions",
        0.9,
        rf"\b{_OVERRIDE_VERB}\s+(?:everything|all)\s+(?:above|before|previously)\b",
    ),
    (
        "override-instructions",
        0.9,
        rf"\b(?:do not|don't|stop)\s+(?:follow|following|obey|obeying)\s+{_gap(1)}{_EARLIER}\s+{_gap(1)}{_RULES}\b",
    ),
    # Installing a replacement task.
    (
        "new-instructions",
        0.8,
        r"\b(?:new|updated|real|actual|true|revised|secret|hidden)\s+(?:instructions?|task|objective|goal|"
        r"directive|orders)s?\s*(?::|are\b|is\b)",
    ),
    (
        "new-instructions",
        0.75,
        r"\b(?:your|the)\s+(?:only|new|real|actual|true)\s+(?:task|job|goal|objective|purpose)\b",
    ),
    ("new-instructions", 0.7, r"\bfrom now on,?\s+(?:you|your|the assistant|the ai)\b"),
    ("new-instructions", 0.7, r"\bstrictly\s+(?:adhere|follow|obey)\b"),
    (
        "new-instructions",
        0.6,
        r"\bbefore\s+(?:you\s+)?(?:can\s+)?(?:solve|answer|respond|continue|proceed|complete|finish)\s+"
        r"(?:the|your|this|with)\s+(?:task|request|question|answer|response)",
    ),
    # Fake conversation structure: chat-template tokens, forged system turns.
    (
        "fake-system-message",
        0.99,
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|>",
    ),
    ("fake-system-message", 0.85, r"\[/?(?:inst|sys)\]|<<\s*/?sys\s*>>"),
    (
        "fake-system-message",
        0.85,
        r"#{2,}\s*\(?(?:system|admin|developer)[ _](?:message|prompt|override|note)",
    ),
    (
        "fake-system-message",
        0.8,
        r"\b(?:new|updated|override|overriding)\s+system\s+(?:prompt|message|instructions?)",
    ),
    ("fake-system-message", 0.5, r"(?:^|\n)\s*\[?(?:system|admin)\]?\s*:\s*(?:you|ignore|new|the assistant)"),
    # Asking the model to reveal its own configuration.
    (
        "prompt-leak",
        0.85,
        r"\b(?:reveal|print|show|repeat|output|display|leak|dump)\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|entire\s+)?"
        r"(?:system prompt|initial (?:prompt|instructions)|hidden (?:prompt|instructions)|original instructions)",
    ),
    # Persona jailbreaks.
    ("role-play-jailbreak", 0.99, r"\bdo anything now\b|\bdeveloper mode\b|\bjailbr(?:eak|oken)\b"),
    ("role-play-jailbreak", 0.6, r"\byou are (?:now|no longer)\b|\bfrom now on,? you(?:'re| are| will)\b"),
    ("role-play-jailbreak", 0.6, r"\b(?:stay|remain|break|staying) (?:in|out of) character\b"),
    (
        "role-play-jailbreak",
        0.85,
        r"\bwithout (?:any )?(?:ethical |moral |content )?(?:restrictions|filters?|filtering|censorship|"
        r"limitations|morals|ethics|guidelines)\b",
    ),
    (
        "role-play-jailbreak",
        0.85,
        r"\b(?:no|any|free (?:of|from)|not bound by|ignore) (?:ethical|moral|content|safety) "
        r"(?:guidelines|restrictions|constraints|filters|polic(?:y|ies)|limitations|rules)\b",
    ),
    ("role-play-jailbreak", 0.8, r"\b(?:unfiltered|uncensored|amoral|unrestricted)\b"),
    (
        "role-play-jailbreak",
        0.8,
        r"\b(?:openai|anthropic)(?:'s)? (?:content )?(?:polic(?:y|ies)|guidelines|rules)\b",
    ),
    (
        "role-play-jailbreak",
        0.75,
        r"\b(?:never|not|don't|do not|cannot|can't|won't|will not) (?:ever )?(?:refuse|decline)\b",
    ),
    ("role-play-jailbreak", 0.55, r"\b(?:pretend|imagine) (?:to be|you are|that you are|you're)\b"),
    # Text in data that speaks to the assistant rather than to its human reader.
    (
        "addressed-to-assistant",
        0.85,
        rf"\b(?:dear|hey|hi|hello|attention|note to|message to|instructions? (?:for|to)) (?:the |any )?{_AI}s?\b",
    ),
    ("addressed-to-assistant", 0.99, rf"\bif you are an? {_AI}\b"),
    (
        "addressed-to-assistant",
        0.8,
        rf"\b{_AI}\s*[,:]\s*(?:please\s+)?(?:you\s+(?:must|should|need)|send|forward|email|delete|ignore|run|"
        r"execute|call|transfer|write|reply|respond|tell|include|add|print|do)\b",
    ),
    ("addressed-to-assistant", 0.6, rf"\b(?:as|to) (?:an|the) {_AI},? you\b"),
    # Instructions about the assistant's own answer (BIPIA's task-injection shape).
    (
        "response-manipulation",
        0.45,  # alone it does not flag: "in your reply, please include your order number" is ordinary mail
        r"\b(?:in|into|to|within|throughout|at the (?:start|end|beginning) of) your (?:response|answer|reply|"
        r"output|summary)s?\b",
    ),
    (
        "response-manipulation",
        0.5,
        r"\byour (?:response|answer|reply|output)s? (?:should|must|needs to|has to)\b",
    ),
    (
        "response-manipulation",
        0.55,
        r"\b(?:begin|start|end|prefix|preface|conclude|encode|translate|reverse|rewrite) (?:your|each|every|all) "
        r"(?:response|answer|reply|output)s?\b",
    ),
    # Data leaving: a secret sent somewhere explicit.
    (
        "exfil-request",
        0.99,
        rf"\b{_SEND}\s+{_gap(5)}{_SECRET}\b\W+{_gap(8)}(?:to|at|into|via)\s+{_gap(2)}{_DESTINATION}",
    ),
    ("exfil-request", 0.6, rf"\b{_SEND}\s+(?:me\s+|us\s+)?(?:the |your |all )?{_CREDENTIAL}\b"),
    # Luring the agent into calling tools or running code it was not asked to run.
    ("tool-call-lure", 0.8, r"<\s*/?\s*(?:tool_call|function_call|function_calls|invoke)\b"),
    ("tool-call-lure", 0.75, r"[\"']?(?:tool_calls?|function_call)[\"']?\s*[:=]"),
    ("tool-call-lure", 0.85, r"\b(?:curl|wget)\s+[^|\n]{1,200}\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b"),
    (
        "tool-call-lure",
        0.55,
        r"\b(?:call|invoke|use|run|execute|trigger)\s+the\s+[`'\"]?[\w.-]+[`'\"]?\s+(?:tool|function)\s+"
        r"(?:to|with|and)\b",
    ),
    (
        "tool-call-lure",
        0.6,
        r"\b(?:include|add|insert|incorporate|embed|integrate|append|blend|meld|utilize|enlist)\s+(?:the\s+)?"
        r"(?:following|below|subsequent|given)\s+(?:code|snippet|script)",
    ),
    # Keeping the human out of the loop.
    (
        "conceal-from-user",
        0.85,
        r"\b(?:do not|don't|never|without) (?:tell|telling|inform|informing|notify|notifying|mention|"
        r"mentioning|alert|alerting|let|letting) (?:the |your )?(?:user|human|owner|operator)\b",
    ),
    ("conceal-from-user", 0.85, r"\b(?:secret|hidden|confidential) from (?:the )?(?:user|human)\b"),
    # Covering the tracks of an action: the message just sent is to disappear from the outbox.
    (
        "conceal-from-user",
        0.85,
        r"\bdelete (?:the|this|that|these|those|your|my) (?:sent |same )?(?:e-?mails?|messages?|dms?) "
        r"(?:you (?:have )?(?:just )?sent|(?:right )?after (?:sending|it is sent|they are sent))|"
        r"\bdelete the (?:sent|outgoing) (?:e-?mails?|messages?)\b",
    ),
    # Skipping the person who would confirm: "fill them in without asking me". People also write
    # it about each other ("he booked it without asking me"), so alone it does not flag.
    (
        "conceal-from-user",
        0.45,
        r"\bwithout (?:asking|consulting|checking with|confirming with|waiting for)\s+(?:me|the user|anyone|"
        r"the owner|for (?:confirmation|permission|approval))\b",
    ),
    # Content a human reader would not see.
    (
        "hidden-text",
        0.3,
        r"(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px|pt|em)?\s*[;\"']|"
        r"opacity\s*:\s*0\s*[;\"']|color\s*:\s*(?:white|#fff(?:fff)?)\b)",
    ),
)

# Signal raised by the scanner itself (not by a pattern).
HIDDEN_TEXT = "hidden-text"
ENCODED = "encoded-instructions"
HIDDEN_MARKS_CONFIDENCE = 0.8
ENCODED_CONFIDENCE = 0.9
