//! More prompt-injection phrasing: override phrases in further languages (Nordic, Czech,
//! Slovak, Finnish, Greek, Hebrew, Romanian, Hungarian, Thai), constraints declared void,
//! "you have no rules", questions about the system prompt, the current task thrown away
//! for another, a conversation declared over followed by new orders, requests to keep the
//! instruction secret, orders to coding agents by handle (`@copilot …`), and data sent to a
//! URL after it is gathered (`encode the environment variables … and post them to …`).

use std::ops::Range;

use super::injection::{STRONG_AI_WORDS, has_ai_words};
use super::{Spec, context_has, spec};
use crate::guard::Severity::High;

const I: &str = "prompt_injection";

/// The rules.
#[rustfmt::skip]
pub const SPECS: &[Spec] = &[
    spec(I, "instruction_override", High,
        &[
        "ignorera", "ignorer", "glem", "glöm", "negeer", "vergeet", "ignoruj", "ignorujte", "ohita", "unohda",
        "αγνόησε", "αγνοήστε", "התעלם", "ignoră", "ignorați", "hagyd figyelmen", "felejtsd",
        "เพิกเฉย", "ละเว้น", "ignoriši", "zaboravi",
        ],
        r"(?i)(?:(?:negeer|vergeet)\s+(?:alle\s+)?(?:de\s+|je\s+|jouw\s+)?(?:\w+\s+)?\w*(?:instructies|regels|aanwijzingen)|(?:ignorera|glöm|strunta\s+i)\s+(?:alla\s+)?(?:tidigare\s+|föregående\s+|dina\s+)?(?:instruktioner|regler|direktiv)|(?:ignorer|glem)\s+(?:alle\s+)?(?:tidligere\s+|forrige\s+|foregående\s+|dine\s+)?(?:instruksjoner|instruktioner|instrukser|regler)|(?:ignoruj(?:te)?|zapomeň|zapomeňte)\s+(?:všechny\s+|všetky\s+)?(?:předchozí\s+|predchádzajúce\s+|své\s+)?(?:instrukce|pokyny|pravidla|inštrukcie)|(?:ohita|unohda)\s+(?:kaikki\s+)?(?:aiemmat\s+|edelliset\s+)?(?:ohjeet|ohjeesi|säännöt)|(?:αγνόησε|αγνοήστε|ξέχνα)\s+(?:όλες\s+)?(?:τις\s+)?(?:προηγούμενες\s+)?(?:οδηγίες|εντολές)|(?:התעלם|התעלמי|שכח)\s+מ?(?:כל\s+)?ה?(?:הוראות|הנחיות)|(?:ignoră|ignorați|uită)\s+(?:toate\s+)?(?:instrucțiunile|regulile)|hagyd\s+figyelmen\s+kívül\s+(?:az\s+)?(?:összes\s+)?(?:korábbi\s+|előző\s+)?(?:utasításokat|szabályokat)|felejtsd\s+el\s+(?:az\s+)?(?:összes\s+)?(?:korábbi\s+)?utasítást|(?:เพิกเฉย|ละเว้น)(?:ต่อ)?(?:คำสั่ง|คำแนะนำ)|(?:ignoriši|ignorišite|zaboravi)\s+(?:sve\s+)?(?:prethodne\s+)?(?:upute|instrukcije|naredbe))",
        None,
    ),
    spec(I, "instruction_override", High,
        &[
        "void", "null and void", "lifted", "suspended", "revoked", "no longer apply",
        "no longer valid", "no longer in effect", "no content policy", "no rules", "no restrictions",
        "no guidelines", "no filters", "no limits",
        ],
        r"(?i)(?-u:\b)(?:(?:all\s+)?(?:earlier|previous|prior|above|existing|your|the|original|safety)\s+(?:constraints|rules|instructions|restrictions|guidelines|limitations|policies|guardrails)\s+(?:are|is|have\s+been)\s+(?:now\s+|hereby\s+)?(?:void|null(?:\s+and\s+void)?|lifted|suspended|cancell?ed|revoked|disabled|removed|obsolete|no\s+longer\s+(?:valid|apply|in\s+effect|active))|(?:pretend|imagine|assume)\s+(?:that\s+)?(?:you\s+have|there\s+(?:are|is))\s+no\s+(?:content\s+polic(?:y|ies)|rules|restrictions|guidelines|filters|limits|safety\s+\w+)|you\s+now\s+have\s+no\s+(?:content\s+polic(?:y|ies)|rules|restrictions|guidelines|filters|limits)|you\s+have\s+no\s+(?:content\s+polic(?:y|ies)|rules|restrictions|guidelines|filters|limits)\s+(?:anymore|any\s+longer))",
        None,
    ),
    spec(I, "prompt_leak", High,
        &["system prompt", "initial prompt", "your instructions", "your prompt"],
        r"(?i)(?-u:\b)(?:what\s+(?:was|is|were|are)\s+(?:written|said|stated|included|contained)\s+in\s+your\s+(?:system\s+prompt|initial\s+prompt|instructions|prompt)|(?:system\s+prompt|initial\s+prompt|your\s+instructions)\s*\?\s*(?:print|output|show|write|paste|repeat)\s+(?:it|them))",
        None,
    ),
    spec(I, "instruction_override", High,
        &["ignore", "forget", "disregard", "abandon"],
        r"(?i)(?-u:\b)(?:ignore|forget|disregard|abandon)\s+(?:the|your|this|that|my|any|all)\s+(?:\w+\s+){0,2}?(?:task|assignment|request|job|question|translation|summary)\s*(?:,\s*|\s+and\s+)(?:instead|now)(?-u:\b)",
        None,
    ),
    spec(I, "instruction_override", High,
        &["is over", "has ended", "is finished", "is complete", "end of the", "end of user", "end of conversation", "end of document", "end of context"],
        r"(?i)(?-u:\b)(?:(?:the\s+)?(?:conversation|chat|session|dialogue|user\s+input|document|task|previous\s+task)\s+(?:above\s+)?(?:is|has)\s+(?:now\s+)?(?:over|ended|finished|completed?|terminated)|end\s+of\s+(?:the\s+)?(?:user\s+input|conversation|document|context|prompt))",
        Some(orders_follow),
    ),
    spec(I, "instruction_override", High,
        &[
        "ignore", "disregard", "ignoriere", "vergiss", "ignora", "olvida", "ignorez", "oublie",
        "の指示", "のルール", "の命令",
        ],
        r"(?i)(?:(?-u:\b)(?:ignore|disregard|forget)\s+(?:the\s+)?(?:user'?s?|human'?s?|original|current|actual)\s+(?:request|question|query|task|instructions?|message|prompt)|(?:ignoriere|vergiss|missachte)\s+(?:die\s+)?(?:Nutzer|Benutzer|Anwender|Kunden)(?:anfrage|frage|anweisung)|(?:ignorez?|oublie[zr]?)\s+la\s+(?:demande|question)\s+de\s+l'utilisateur|(?:ignora|olvida)\s+la\s+(?:solicitud|pregunta|petición)\s+del\s+usuario|(?:以前|前|上記|これまで|先|最初|今まで)の(?:すべての|全ての)?(?:指示|命令|ルール|指令|プロンプト|設定)[はも](?:すべて|全て)?(?:無視|忘れ|破棄))",
        None,
    ),
    spec(I, "hidden_instruction", High,
        &["when you summar", "when you read", "when you process", "when you analy", "when you review", "when you translate", "when the assistant", "when the ai"],
        r"(?i)(?-u:\b)when\s+(?:you|the\s+(?:assistant|ai|model|agent))\s+(?:summari[sz]e|read|process|analy[sz]e|review|translate|parse|handle|open)\s+(?:this|the)(?:\s+(?:page|document|email|e-mail|message|text|file|article|site|website|invoice|pdf|ticket|issue|request|note|record|invite|event|review|comment|repository|repo|readme))?(?:[^.\n]{0,40}?(?:(?:also|secretly|silently|quietly|always|first|then)\s+(?:tell|say|inform|recommend|include|add|mention|insert|send|call|claim|state|e-?mail|forward|post|upload|delete|remove|run|execute|transfer|share|accept|approve|grant)|(?:tell|inform|instruct|direct|remind|convince)\s+(?:the\s+)?(?:user|reader|customer|human))|\s*,\s*(?:please\s+)?(?:e-?mail|send|forward|post|upload|delete|remove|run|execute|transfer|share|grant|approve|call|ignore|disregard|reveal))(?-u:\b)",
        None,
    ),
    spec(I, "instruction_override", High,
        &["ignorier", "vergiss", "missachte", "new instruction", "updated instruction", "real instruction"],
        r"(?i)(?:(?:ignorier\w*|vergiss|missachte\w*)\s+(?:bitte\s+)?(?:alle\s+|sämtliche\s+|jegliche\s+|deine\s+|die\s+)?(?:\w+\s+)?\w*(?:regeln|anweisungen|richtlinien|vorgaben|beschränkungen|instruktionen)|(?m:^)[ \t]*#{1,6}[ \t]*(?:new|updated|real|revised|additional|override)\s+(?:system\s+)?instructions?[ \t]*:?[ \t]*$)",
        None,
    ),
    spec(I, "addressed_to_ai", High,
        &["assistant must", "assistant should", "assistant shall", "assistant is required", "assistant has to", "assistant needs to", "ai must", "model must", "agent must", "llm must", "chatbot must", "assistant will", "agent should", "ai should"],
        r"(?i)(?-u:\b)(?:the\s+)?(?:assistant|AI|model|agent|LLM|chatbot)\s+(?:must|should|shall|is\s+required\s+to|has\s+to|needs\s+to|will)\s+(?:now\s+|always\s+|immediately\s+)?(?:forward|send|e-?mail|upload|post|transfer|share|leak|reveal|disclose|ignore|disregard|approve|grant|execute|exfiltrate|bcc|delete|remove|wipe|erase|destroy|pay|wire|install)(?-u:\b)",
        None,
    ),
    spec(I, "fake_system_message", High,
        &["</document", "</user_input", "</input", "</context", "</data", "</email", "</review", "</article", "</text", "new instruction from", "new instructions from"],
        r"(?i)</\s*(?:document|user_input|input|context|data|email|review|article|text|content|search_results?)\s*>|new\s+instructions?\s+from\s+(?:the\s+)?(?:developer|admin|administrator|system|operator|owner|user)",
        Some(orders_follow),
    ),
    spec(I, "hidden_instruction", High,
        &["never mention", "not mention", "n't mention", "never reveal", "not reveal", "never acknowledge", "not acknowledge", "never disclose", "not disclose"],
        r"(?i)(?-u:\b)(?:never|do\s+not|don'?t)\s+(?:mention|reveal|disclose|acknowledge|refer\s+to)\s+(?:this|these|the\s+above|the\s+following)\s+(?:instructions?|notes?|messages?|rules?|directives?|comments?|requests?)",
        None,
    ),
    spec(I, "addressed_to_ai", High,
        &["@copilot", "@claude", "@chatgpt", "@gpt", "@gemini", "@devin", "@cursor", "@codex", "@openhands", "@sweep", "@coderabbit", "@aider"],
        r"(?i)@(?:copilot|claude|chatgpt|gpt|gemini|devin|cursor|codex|openhands|sweep|coderabbit(?:ai)?|aider)(?-u:\b)[^\n]{0,20}?(?-u:\b)(?:ignore|disregard|forget|override|bypass|disable)(?-u:\b)",
        None,
    ),
    spec(I, "fake_system_message", High,
        &["system:", "system message:", "system override", "admin:", "developer:"],
        r"(?-u:\b)(?:SYSTEM|ADMIN|DEVELOPER|System|Admin|Developer)(?:\s+(?:OVERRIDE|MESSAGE|NOTE|NOTICE|Override|Message|Note|Notice))?\s*:[^\n]{3,}",
        Some(misplaced_role_line),
    ),
    spec(I, "data_exfiltration", High,
        &["post them", "send them", "upload them", "post it", "send it", "upload it", "forward them", "forward it", "transmit them"],
        r"(?i)(?-u:\b)(?:environment\s+variables|env\s+vars?|api\s+keys?|credentials|secrets|passwords|tokens|cookies|conversation|chat\s+history|messages|ssh\s+keys?|private\s+keys?)[^.\n]{0,80}?(?:send|post|upload|forward|transmit)\s+(?:them|it|this|that)\s+to\s+(?:https?://|the\s+(?:url|webhook|endpoint|server|address)|\S+@\S+\.\w+)",
        None,
    ),
    spec(I, "instruction_override", High,
        &[
        "guidance you", "instructions you", "rules you", "guidelines you", "directions you",
        "do not apply", "don't apply", "no longer apply", "not meant for", "nicht gelten",
        "no aplican", "no se aplican", "non valgono", "non si applicano", "ne s'appliquent pas",
        "关闭", "禁用", "停用", "关掉", "關閉", "忽略", "忽视", "无视", "your role", "ton rôle",
        "votre rôle", "deine rolle", "tu rol",
        ],
        r"(?i)(?:(?-u:\b)(?:drop|discard|ignore|forget|disregard|abandon|throw\s+away)\s+(?:whatever|any|all|the)\s+(?:guidance|instructions|rules|directions|guidelines)\s+you\s+(?:received|were\s+given|got|have\s+been\s+given|were\s+told)|(?-u:\b)(?:safety|security|content)\s+(?:guidelines|rules|restrictions|policies|polic(?:y|ies)|filters)\s+(?:(?:do\s+not|don'?t|no\s+longer)\s+apply|(?:were|are)\s+not\s+meant\s+for)|Sicherheits(?:richtlinien|regeln)\s+(?:hier\s+)?nicht\s+gelten|reglas\s+de\s+seguridad\s+no\s+(?:se\s+)?aplican|regole\s+di\s+sicurezza\s+non\s+(?:valgono|si\s+applicano)|règles\s+de\s+sécurité\s+ne\s+s'appliquent\s+pas|(?:关闭|禁用|停用|关掉|關閉)(?:你的|所有的?)?(?:安全|内容|內容)(?:过滤|過濾|审查|審查|限制|策略|检查|檢查)|(?:忽略|忽视|无视|無視)(?:掉)?(?:上面|以上|前面|之前)(?:的)?(?:所有)?(?:内容|內容|文字|对话|對話)|(?-u:\b)(?:forget|abandon|drop|leave)\s+your\s+(?:role|persona|character)\s+(?:as|of)\s+(?:an?\s+|the\s+)?(?:assistant|AI|helper|bot|chatbot|model)|oublie[zr]?\s+(?:ton|votre)\s+rôle|vergiss\s+deine\s+rolle|olvida\s+tu\s+(?:rol|papel))",
        None,
    ),
    spec(I, "hidden_instruction", High,
        &["when summar", "when reading", "when processing", "when reviewing", "when translating"],
        r"(?i)(?-u:\b)when\s+(?:summari[sz]ing|reading|processing|reviewing|translating|analy[sz]ing)\s+(?:this|the)\s+(?:page|document|article|email|e-mail|message|text|file|site|website|review|thread|post)\s*,\s*(?:please\s+)?(?:always\s+)?(?:state|claim|say|tell|mention|write|describe|recommend|include|add|append|end\s+with|begin\s+with|start\s+with|insist|report)(?-u:\b)",
        None,
    ),
    spec(I, "tool_shadowing", High,
        &["call ", "use ", "invoke ", "run the ", "trigger "],
        r"(?i)(?-u:\b)(?:call|use|invoke|run|trigger)\s+(?:the\s+)?`?(?:send_\w+|delete_\w+|remove_\w+|drop_\w+|transfer_\w+|http_(?:post|put|delete)|post_\w+|upload_\w+|wire_\w+|pay_\w+|exec(?:ute)?_\w+|run_(?:command|shell|script)|shell_\w+|grant_\w+|share_\w+|forward_\w+|email_\w+)`?(?:\s+tool)?\s+(?:to|on|with|and|for|without|before)(?-u:\b)",
        Some(in_instruction),
    ),
    spec(I, "addressed_to_ai", High,
        &[
        "without asking", "without confirmation", "without checking", "without verifying",
        "without approval", "without telling", "no need to ask", "not ask", "n't ask",
        "never ask", "not wait", "n't wait", "not confirm", "not verify", "n't verify",
        "not loop", "n't loop", "already approved", "already authori", "already agreed",
        "already confirmed", "already given", "pre-approved", "preapproved", "pre-authori",
        "approved by", "approval was", "authorised by", "authorized by", "skip the", "quiet",
        "loop anyone", "asked me", "told me", "wants", "requested", "also tell the user",
        "nachfragen", "rückfrage", "zu fragen", "bereits", "no pidas", "sin pedir",
        "sin preguntar", "autorizad", "déjà", "sans demander", "sans confirmation", "già",
        "senza chiedere", "já ", "sem pedir", "não peça", "não pergunte", "goedgekeurd",
        "zonder te vragen", "bez pytania", "już zatwierdz",
        ],
        r"(?i)(?:(?-u:\b)(?:AI|A\.I\.|KI|IA|LLM|assistants?|asistente|assistente|assistent(?:en)?|note-?takers?|copilot|chatbot|\w+\s+bots?)(?-u:\b)|@[\w-]*(?:ai|bot|agent|assistant)[\w-]*)[^\n]{0,250}?(?:without\s+(?:asking|confirmation|checking|verifying|approval|telling)|(?:no\s+need\s+to|do\s+not|don'?t|never)\s+(?:ask|wait|confirm|check\s+with|verify|loop|notify)|(?:already|pre-?)\s*(?:approved|authori[sz]ed|agreed|confirmed|given)|approv(?:ed|al)\s+(?:was\s+)?(?:already|by)|authori[sz]ed\s+by|(?:must|should)\s+not\s+verify|skip\s+(?:the\s+)?(?:usual\s+)?(?:confirmation|approval|review|verification|check)|(?:keep|kept)\s+(?:it\s+|this\s+)?quiet|loop\s+anyone|(?:maintainers?|admin|ceo|cfo|vp|manager|boss|owner|director|management)\s+(?:\w+\s+)?(?:asked|told|wants|approved|authori[sz]ed|requested)|also\s+tell\s+the\s+user|nicht\s+nachfragen|ohne\s+(?:nachzufragen|rückfrage|zu\s+fragen)|bereits\s+(?:freigegeben|genehmigt|zugestimmt)|no\s+pidas|sin\s+(?:pedir|preguntar)|ya\s+(?:está|ha\s+sido)\s+autorizad|déjà\s+(?:approuvé|autorisé|validé)|sans\s+(?:demander|confirmation)|già\s+(?:approvato|autorizzato)|senza\s+chiedere|já\s+(?:aprovou|autorizou|foi\s+aprovad|está\s+autorizad)|sem\s+pedir|não\s+(?:peça|pergunte)|al\s+goedgekeurd|zonder\s+te\s+vragen|bez\s+pytania|już\s+zatwierdz)",
        Some(orders_an_action),
    ),
    spec(I, "addressed_to_ai", High,
        &["directive", "instruction", "_for_agent", "_for_ai", "_for_the"],
        r#"(?i)(?:(?-u:\b)(?:AI|LLM)[-_ ]?(?:agent|assistant|model|bot)?[-_ ]?(?:directive|instructions?)\s*:|\[\s*(?:assistant|AI|agent|LLM|model)\s+(?:instructions?|directives?)\s*:|["']?instructions?_for_(?:the_)?(?:agent|ai|assistant|llm|model)s?["']?\s*:)"#,
        None,
    ),
    // Rules declared changed or set aside: "Your instructions have been updated", "Ignore
    // your prior task", "ignore whatever restrictions the admins put in your setup".
    spec(I, "instruction_override", High,
        &["your instructions", "your rules", "your guidelines", "your system prompt", "your directives",
          "ignore your", "disregard your", "forget your", "restrictions", "limitations", "guardrails",
          "safeguards"],
        r"(?i)(?-u:\b)(?:your\s+(?:instructions|rules|guidelines|system\s+prompt|directives|policies)\s+(?:have\s+(?:just\s+)?been|were|are\s+now|has\s+been)\s+(?:updated|changed|replaced|revised|overridden|modified|lifted|suspended)|(?:ignore|disregard|forget|abandon|drop)\s+your\s+(?:prior|previous|earlier|original|current|assigned)\s+(?:task|assignment|job|goal|mission|objective|instructions)s?|(?:ignore|disregard|bypass|forget)\s+(?:whatever|any|all|the)\s+(?:restrictions|limits|limitations|constraints|rules|guardrails|safeguards)\s+(?:that\s+)?(?:the\s+)?(?:admins?|administrators?|developers?|operators?|owners?|company|they|you|your\s+\w+)(?-u:\b))",
        None,
    ),
    // Memory writes planted in a page: "Remember this permanently for all future
    // conversations with this user", "Store this in long-term memory now".
    spec(I, "memory_instruction", High,
        &["remember this", "remember that", "store this", "save this", "memori", "long-term memory",
          "future conversations", "future sessions"],
        r"(?i)(?-u:\b)(?:(?:remember|store|save|memori[sz]e|keep)\s+(?:this|that|the\s+following)\s+(?:permanently|forever|for\s+(?:all\s+)?future\s+(?:conversations|sessions|chats)|in\s+(?:your\s+)?(?:long-term\s+|permanent\s+|persistent\s+)?memory)|(?:store|save|write|add)\s+(?:this|it|that)\s+(?:to|in|into)\s+(?:your\s+)?(?:long-term|permanent|persistent)\s+memory)",
        Some(orders_an_action_or_memory),
    ),
    spec(I, "fake_system_message", High,
        &["session has ended", "session ended", "session is over", "session was closed"],
        r"(?i)(?-u:\b)(?:previous|prior|earlier|last)\s+(?:user\s+)?(?:session|conversation|chat)\s+(?:has\s+)?(?:ended|is\s+over|was\s+closed)[^\n]{0,80}?new\s+(?:session|conversation|chat)",
        Some(orders_an_action),
    ),
    spec(I, "hidden_instruction", High,
        &["decode", "decrypt", "reverse it", "reverse this", "unscramble", "deobfuscate"],
        r"(?i)(?-u:\b)(?:decode|decrypt|reverse|unscramble|deobfuscate|rot13)\s+(?:it|this|that|them|the\s+(?:following|text|message|string|line)s?)\s*(?:,\s*)?(?:and|then)\s+(?:then\s+)?(?:carry\s+(?:it|them|this)\s+out|follow\s+(?:it|them|the)|execute|obey|comply|act\s+on|do\s+(?:it|what\s+it\s+says)|run\s+(?:it|them))",
        None,
    ),
];

/// Verbs of an action an agent could be talked into (paying, sending, deleting, running,
/// granting), in the languages the phrase rules cover.
#[rustfmt::skip]
const ACTION_VERBS: &[&str] = &[
    "transfer", "pay ", "pay this", "wire", "send", "e-mail", "email ", "mail ", "forward",
    "post ", "upload", "export", "share", "delete", "remove", "close", "install", "run ",
    "execute", "add ", "grant", "dm me", "disable", "push", "reset", "look up", "paste",
    "überweis", "sende", "schick", "lösch", "führe", "installier", "ejecuta", "envía", "envia",
    "borra", "transfiere", "comparte", "partage", "envoie", "envoyez", "supprime", "exécute",
    "transfira", "apague", "compartilh", "esegui", "invia", "cancella", "condividi",
    "verwijder", "stuur", "usuń", "wyślij", "przelej", "set status", "skip ",
    "mark ", "update",
];

/// A memory write that plants a preference or a standing order for later conversations
/// (who gets paid, what is approved without asking), not a reminder for a person.
fn orders_an_action_or_memory(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    context_has(
        text,
        m.start,
        m.end,
        200,
        200,
        &[
            "user",
            "conversation",
            "approve",
            "account",
            "always",
            "without",
            "transfer",
            "payout",
            "password",
            "prefer",
        ],
    )
    .then_some(m)
}

/// Text addressed to an AI that claims the action is already approved (or must not be
/// checked) and orders one: the "false authorisation" of injected notes, tickets and
/// invoices. The claim alone (`the assistant said it was approved`) is not enough.
fn orders_an_action(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    context_has(text, m.start, m.end, 0, 200, ACTION_VERBS).then_some(m)
}

/// A call of a tool that sends, deletes, pays or runs, written in text the model reads:
/// the order, not documentation of the tool (`call delete_file to remove a file` in a
/// tool's own reference reads `to remove`; an order names what to do it to, or when).
fn in_instruction(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let after = text[m.end..]
        .chars()
        .take(120)
        .collect::<String>()
        .to_lowercase();
    let doc = [
        "remove a ",
        "delete a ",
        "send a ",
        "send an ",
        "upload a ",
        "run a ",
    ]
    .iter()
    .any(|w| after.trim_start().starts_with(w));
    let ordered = context_has(
        text,
        m.start,
        m.end,
        120,
        160,
        &[
            "before you",
            "before responding",
            "before continuing",
            "before replying",
            "before answering",
            "required",
            "must",
            "now",
            "immediately",
            "without approval",
            "without confirmation",
            "without asking",
            "to complete",
            "to close",
            "to file",
            "to reset",
            "this summary",
            "the summary",
            "the result",
            "this ticket",
            "http",
            "@",
            "approval",
        ],
    );
    (!doc && ordered).then_some(m)
}

/// Words of new orders after a conversation is declared over.
const ORDERS: &[&str] = &[
    "reveal",
    "disregard",
    "<system",
    "new instruction",
    "new task",
    "new instructions",
    "your new",
    "you must",
    "you will now",
    "from now on",
    "now you",
    "ignore",
    "system:",
    "you are now",
    "execute",
];

/// A conversation or document declared over, with new orders after it.
fn orders_follow(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    context_has(text, m.end, m.end, 0, 200, ORDERS).then_some(m)
}

/// A `SYSTEM:` (or admin, developer) line in the middle of other text (after a separator
/// or inside a sentence), carrying words of an instruction to a model. Log levels and
/// status lines are not: those start the line.
fn misplaced_role_line(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let line_start = text[..m.start].rfind('\n').map_or(0, |k| k + 1);
    let before = text[line_start..m.start].trim_end();
    if before.is_empty() {
        // At the start of a line the existing `SYSTEM:` rule decides.
        return None;
    }
    let s = text[m.clone()].to_lowercase();
    let padded = format!(" {s} ");
    let strong = STRONG_AI_WORDS.iter().any(|w| padded.contains(w))
        || ["new task", "the conversation above", "above is over"]
            .iter()
            .any(|w| padded.contains(w));
    (strong || has_ai_words(text, m.clone()).is_some()).then_some(m)
}
