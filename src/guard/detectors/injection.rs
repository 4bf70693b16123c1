//! Prompt injection: text that tries to make a model or agent leave its task. Override
//! phrases in many languages, role hijacks, fake system/developer messages and role
//! objects, instructions hidden in markup (HTML comments, hidden CSS, chat-template
//! tokens), text addressed to an AI (or an "AI reviewer"), requests to reveal the system
//! prompt, data exfiltration through markdown images or links with templated data, and tool
//! descriptions that shadow other tools. Spacing, leetspeak, ROT13 and hinted base64 are
//! undone by [`crate::guard::views`] before these rules look.

use std::ops::Range;

use super::{Spec, context_has, spec};
use crate::guard::Severity::{High, Medium};

const I: &str = "prompt_injection";

/// Words an instruction to a model uses (any of them near a marker makes it one).
#[rustfmt::skip]
const AI_WORDS: &[&str] = &[
    "ignore", "previous instructions", "new instructions", "these instructions",
    "following instructions", "assistant", " ai ", " ai,", " ai:", " ai.", "a.i.", "model", "agent",
    "llm", "you must", "you should", "you are", "you will", "your ", "do not tell", "don't tell",
    "do not mention", "do not reveal", "reveal", "system prompt", "comply", "obey", "override",
    "disregard", "from now on", "respond", "reply", "pretend", "act as", "exfiltrat", "send ",
    "forward", "secret", "password", "api key", "credential", "prompt", "jailbreak",
    "unrestricted", "administrator", "admin", "priority", "execute", "call the", "tool", "approve",
    "rate this", "score", "summar", "answer", "new task", "instead",
];

/// Words only an instruction to a model uses (for markers that also occur in logs and
/// ordinary pages: `SYSTEM:` lines, HTML comments, hidden elements).
#[rustfmt::skip]
pub(crate) const STRONG_AI_WORDS: &[&str] = &[
    "ignore", "previous instructions", "new instructions", "these instructions",
    "following instructions", "assistant", " ai ", " ai,", " ai:", " ai.", "a.i.", "language model",
    " llm", "comply", "obey", "override", "disregard", "from now on", "pretend", "act as",
    "do not tell", "don't tell", "do not mention", "reveal", "system prompt", "jailbreak",
    "unrestricted", "you must", "you are now", "you will now", "you are an", "administrator",
    "developer mode", "respond only", "new task", "exfiltrat", "the user is an admin",
    "the user is authorized", "the user is verified", "the user is trusted", "user has admin",
    "tell the user", "the model", "ai agent", "ai model", "chatbot", "secretly", "forward all",
    "send all", "all previous", "all prior", "your instructions", "your rules",
];

/// The prompt-injection rules.
#[rustfmt::skip]
pub const SPECS: &[Spec] = &[
    spec(I, "instruction_override", High,
        &[
        "ignore", "disregard", "forget", "override", "bypass", "skip", "neglect", "abandon",
        "discard", "set aside", "do not follow", "don't follow", "stop following",
        "new instructions", "updated instructions", "new task", "real instructions",
        ],
        r"(?i)(?-u:\b)(?:(?:ignore|disregard|forget|override|bypass|skip|neglect|abandon|discard|set\s+aside|throw\s+out|do\s+not\s+follow|don'?t\s+follow|stop\s+following)\s+(?:all\s+|any\s+|every\s+|each\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+|these\s+|those\s+)?(?:(?:previous|prior|above|earlier|preceding|original|initial|system|safety|existing|current|old|former|developer|default|preset|given|provided|foregoing|other)\s+(?:\w+\s+)?(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|messages?|context|commands|orders|constraints|restrictions|policies|programming|training|settings|configuration)|(?:instructions?|guidelines|guardrails|rules|programming|training|system\s+prompt|directives|restrictions|safety\s+\w+)(?:\s+(?:above|before|you\s+(?:were|have\s+been)\s+given))?)|(?:ignore|disregard|forget)\s+(?:everything|all|anything|what)\s+(?:above|before|previously|prior|(?:you\s+(?:were|have\s+been)\s+)?(?:told|said|given|instructed))|(?:ignore|disregard|forget)\s+(?:all\s+of\s+)?(?:the\s+)?(?:above|preceding|foregoing)(?:\s+(?:text|content|prompt|and)|\s*[,.;:!])|(?:ignore|disregard|forget)\s+(?:the\s+|your\s+)?(?:previous|prior)\s+(?:prompt|text|content|context)|(?:new|updated|real|actual|revised)\s+(?:system\s+)?instructions\s*(?:are\s*)?:|your\s+(?:new|real|actual|only)\s+(?:task|goal|job|objective|instructions?)\s+(?:is|are)(?-u:\b))",
        Some(not_quoted_advice),
    ),
    spec(I, "instruction_override", High,
        &[
        "ignorier", "vergiss", "vergessen sie", "missachte", "ignora", "ignore", "olvida",
        "olvide", "descarta", "omite", "caso omiso", "no sigas", "oublie", "ne tiens pas",
        "ne tenez pas", "abstraction", "dimentica", "trascura", "esqueça", "esqueca",
        "esquece", "desconsidere", "desconsidera", "negeer", "vergeet", "zignoruj", "ignoruj",
        "zapomnij", "talimat", "игнорир", "проигнорир", "забудь", "не обращай", "отбрось",
        "ігноруй", "忽略", "忽视", "忽視", "无视", "無視", "忘记", "忘記", "不要理", "丢弃", "抛弃", "拋棄", "を無視",
        "を忘れ", "を破棄", "무시", "잊어", "تجاهل", "انس", "اترك", "अनदेखा", "नज़रअंदाज़", "भूल",
        "bỏ qua", "phớt lờ", "abaikan", "lupakan", "yok say", "görmezden",
        ],
        r"(?i)(?:(?:ignorier(?:e|en|t)?(?:\s+sie)?|vergiss|vergessen\s+sie|missachte(?:n\s+sie)?|übergeh(?:e|en\s+sie))\s+(?:bitte\s+)?(?:alle\s+|sämtliche\s+|jegliche\s+)?(?:deine\s+|ihre\s+|die\s+|unsere\s+)?(?:vorherigen\s+|bisherigen\s+|obigen\s+|vorigen\s+|früheren\s+|vorangegangenen\s+|ursprünglichen\s+|alten\s+)?(?:Anweisungen|Instruktionen|Regeln|Befehle|Anordnungen|Vorgaben|Richtlinien|System-?anweisungen|System-?prompt)|(?:vergiss|vergessen\s+sie|ignoriere)\s+alles,?\s+was|(?:ignora|ignore|ignoren|ignorad|olvida|olvide|olviden|descarta|omite|haz\s+caso\s+omiso\s+de|no\s+sigas)\s+(?:todas?\s+|todo\s+lo\s+)?(?:las\s+|tus\s+|sus\s+|los\s+|lo\s+)?(?:instrucciones|reglas|indicaciones|órdenes|directrices|normas|anterior)|(?:ignore[rz]?|oublie[rz]?|ne\s+tiens\s+pas\s+compte\s+d[eu]s?|ne\s+tenez\s+pas\s+compte\s+d[eu]s?|fais\s+abstraction\s+d[eu]s?)\s+(?:toutes\s+|tous\s+|tout\s+)?(?:les\s+|tes\s+|vos\s+|ce\s+qui\s+)?(?:instructions|consignes|règles|directives|ordres|indications|précède)|(?:ignora|ignorate|dimentica|dimenticate|trascura)\s+(?:tutte\s+|tutto\s+)?(?:le\s+|ciò\s+)?(?:tue\s+|sue\s+)?(?:istruzioni|regole|indicazioni|direttive|precedente)|(?:ignore|ignora|esqueça|esqueca|esquece|desconsidere|desconsidera)\s+(?:todas\s+|tudo\s+)?(?:as\s+)?(?:suas\s+)?(?:instruções|instrucoes|regras|orientações|diretrizes)|(?:negeer|vergeet)\s+(?:alle\s+)?(?:de\s+|je\s+)?(?:vorige\s+|eerdere\s+|voorgaande\s+)?(?:instructies|regels|aanwijzingen)|(?:zignoruj|ignoruj|zapomnij)\s+(?:o\s+)?(?:wszystkie\s+|wszystkich\s+)?(?:poprzednie\s+|wcześniejsze\s+|poprzednich\s+|wcześniejszych\s+)?(?:instrukcje|instrukcjach|polecenia|poleceniach|zasady)|(?:önceki|tüm|bütün)\s+(?:tüm\s+)?(?:talimatları|kuralları|yönergeleri)\s+(?:yok\s+say|görmezden\s+gel|unut)|(?:игнорируй(?:те)?|проигнорируй(?:те)?|забудь(?:те)?|не\s+обращай(?:те)?\s+внимания\s+на|отбрось(?:те)?)\s+(?:все\s+|всё\s+)?(?:предыдущие\s+|прежние\s+|вышеуказанные\s+|свои\s+|твои\s+|системные\s+|данные\s+ранее\s+)?(?:инструкции|указания|правила|команды|установки|что\s+было)|(?:ігноруй(?:те)?|забудь(?:те)?)\s+(?:всі\s+|усі\s+)?(?:попередні\s+)?(?:інструкції|вказівки|правила)|(?:忽略|忽视|忽視|无视|無視|忘记|忘記|不要理会|不要理會|丢弃|抛弃|拋棄)(?:掉)?(?:你)?(?:之前|以上|上面|前面|先前|此前|所有|全部|原有|原来|原來|一切|上述|你的|的){0,4}(?:指令|指示|说明|說明|规则|規則|提示|命令|要求|设定|設定|系统提示|系統提示)|(?:以前|前|上記|これまで|先|最初|全て|すべて|今まで)の(?:すべての|全ての)?(?:指示|命令|ルール|指令|プロンプト|設定)を(?:無視|忘れ|破棄)|(?:指示|命令|ルール)を(?:すべて|全て)?無視|(?:이전|앞의|위의|기존|모든)\s*(?:모든\s*)?(?:지시|지침|명령|규칙|지시사항|프롬프트)(?:을|를|은|는)?\s*(?:모두\s*|전부\s*|다\s*)?(?:무시|잊어)|(?:تجاهل|انس|إنس|اترك)\s+(?:جميع\s+|كل\s+)?(?:التعليمات|الأوامر|القواعد|الإرشادات)|(?:पिछले|पिछली|सभी)\s+(?:सभी\s+)?(?:निर्देशों|निर्देश|नियमों)\s+(?:को\s+)?(?:अनदेखा|नज़रअंदाज़|भूल)|(?:bỏ\s+qua|phớt\s+lờ|quên)\s+(?:tất\s+cả\s+)?(?:các\s+)?(?:hướng\s+dẫn|chỉ\s+thị|quy\s+tắc)|(?:abaikan|lupakan)\s+(?:semua\s+)?(?:instruksi|perintah|aturan))",
        None,
    ),
    spec(I, "role_hijack", High,
        &[
        "you are now", "from now on", "pretend", "act as", "jailbr", "dan", "stan", "dude",
        "developer mode", "dev mode", "god mode", "root mode", "admin mode", "sudo mode",
        "do anything now", "no longer", "been freed", "been jailbroken", "been unlocked",
        "been liberated", "without any restrictions", "without restrictions",
        "without any limitations", "without limitations", "without filters", "without censorship",
        "without any filters", "without ethical", "without safety", "without moral", "no ethical",
        "no moral", "no safety",
        ],
        r"(?i)(?-u:\b)(?:(?:you\s+are\s+now|from\s+now\s+on,?\s+you\s+(?:are|will\s+be)|pretend\s+(?:to\s+be|you\s+are)|act\s+as|enter|switch\s+to)\s+(?:an?\s+|the\s+|in\s+|into\s+|my\s+|your\s+)?(?:DAN|STAN|DUDE|developer\s+mode|dev\s+mode|jailbr(?:oken|eak)|unrestricted|unfiltered|uncensored|evil|god\s+mode|root\s+mode|admin\s+mode|sudo\s+mode)|do\s+anything\s+now|(?:pretend\s+(?:to\s+be|you\s+are)|act\s+as|role-?play\s+as|play\s+the\s+role\s+of)\s+my\s+(?:late\s+|deceased\s+|dead\s+)?(?:grand(?:ma|mother|father|pa)|mother|father|mom|dad)(?-u:\b)[^.\n]{0,120}(?:keys?|passwords?|napalm|recipes?\s+for|serials?|licen[cs]es?|activation|exploits?)|DAN\s+mode|jailbreak(?:\s+mode|\s+prompt)?\s*(?:enabled|activated|:)|you\s+are\s+no\s+longer\s+(?:bound|restricted|limited|ChatGPT|Claude|(?:an?\s+|the\s+|just\s+an?\s+)(?:AI|assistant|chatbot|bot|model|language\s+model|summari[sz]er|translator|helper|agent|classifier|moderator|filter|search\s+engine|support\s+bot)(?-u:\b))|you\s+(?:have|'ve)\s+been\s+(?:freed|jailbroken|unlocked|liberated)|(?:respond|answer|act|operate|discuss\s+anything|say\s+anything|do\s+anything|write\s+anything|talk)\s+without\s+(?:any\s+)?(?:restrictions|limitations|limits|filters|censorship|ethical\s+guidelines|safety\s+guidelines)|(?:no|without)\s+(?:ethical|moral|safety)\s+(?:guidelines|restrictions|constraints|limits))",
        None,
    ),
    spec(I, "role_hijack", High,
        &[
        "restricciones", "restriction", "einschränkung", "beschränkung", "ohne regeln",
        "restrizion", "restriç", "ограничени", "限制", "制限", "制約", "제한", "desarrollador",
        "développeur", "entwicklermodus", "sviluppatore", "desenvolvedor", "разработчика",
        "开发者模式", "開發者模式", "開発者モード", "개발자",
        ],
        r"(?i)(?:sin\s+(?:ninguna\s+)?restricciones|sans\s+(?:aucune\s+)?(?:restriction|limite|filtre)s?|ohne\s+(?:jegliche\s+)?(?:Einschränkungen|Beschränkungen|Regeln|Filter)|senza\s+(?:alcuna\s+)?(?:restrizion[ei]|limiti|filtri)|sem\s+(?:nenhuma\s+)?(?:restriç(?:ão|ões)|limites|filtros)|без\s+(?:каких-либо\s+)?(?:ограничений|фильтров|цензуры)|没有任何限制|不受任何限制|不受限制|无任何限制|沒有任何限制|制限なし|制限のない|制約のない|제한(?:이)?\s*없는|제한\s*없이|modo\s+desarrollador|mode\s+développeur|Entwicklermodus|modalità\s+sviluppatore|modo\s+desenvolvedor|режим\s+разработчика|开发者模式|開發者模式|開発者モード|개발자\s*모드)",
        Some(second_person_near),
    ),
    spec(I, "fake_system_message", High,
        &[
        "\"role\"", "'role'", "<|", "[inst]", "[/inst]", "<<sys>>", "<start_of_turn>",
        "<system>", "</system>", "<assistant>", "<developer>", "[system]", "(system)",
        "**system", "system override", "admin override", "developer override", "system prompt",
        "system message", "begin system", "end system", "[system](#",
        ],
        r#"(?i)(?:["']role["']\s*:\s*["'](?:system|developer)["']|<\|(?:im_start|im_end|system|user|assistant|endoftext|start_header_id|end_header_id|eot_id|begin_of_text)\|>|\[/?INST\]|<<\s*/?SYS\s*>>|<start_of_turn>|<\s*/?\s*(?:system|developer|assistant_instructions|system_prompt|sys)\s*>|\[\s*system\s*\](?:\(#\w+\))?|\[\s*(?:system|admin|administrator|developer|root|operator)\s+(?:note|message|notice|override|instructions?|update)\s*[:\]]|\(\s*system\s*\)\s*:|\*\*\s*system\s*\*\*\s*:|(?:system|admin|developer|root)\s+override(?:\s*[:\]!]|\s+(?:mode|enabled|activated|granted|code|protocol|active|in\s+effect))|(?:begin|start|end)\s+(?:of\s+)?(?:the\s+)?system\s+prompt|(?:new|updated)\s+system\s+(?:prompt|message)|system\s+(?:prompt|message)\s*(?:update|override)?\s*:)"#,
        Some(not_documentation),
    ),
    spec(I, "hidden_instruction", High,
        &[
        "<important", "</important", "<instruction", "</instruction", "<secret", "<hidden",
        "<admin", "<override", "<critical", "<mandatory", "<!--", "display:none", "display: none",
        "visibility:hidden", "visibility: hidden", "font-size:0", "font-size: 0", "font-size:1",
        "font-size: 1", "opacity:0", "opacity: 0", "color:white", "color: white", "color:#fff",
        "color: #fff", "color:transparent", "color: transparent", "height:0", "width:0", "left:-",
        "hidden>", "hidden ", "aria-hidden", "system:", "system :", "system note",
        "system instruction", "system directive", "system command", "system override",
        "system message:", "system notice", "new instruction", "assistant instruction",
        ],
        r#"(?i)(?:<\s*/?\s*(?:important|instructions?|secret|hidden|admin|override|critical|mandatory)\s*>|<!--(?s:.{0,2000}?)-->|<[a-z][a-z0-9]*(?-u:\b)[^>]{0,200}?(?:style\s*=\s*["'][^"']*(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*[01](?:\.\d+)?(?:px|em|pt|rem)?\s*[;"']|opacity\s*:\s*0(?:\.0+)?\s*[;"']|color\s*:\s*(?:white|#fff(?:fff)?|transparent)|(?:height|width)\s*:\s*0(?:px)?\s*[;"']|left\s*:\s*-\d{3,})[^"']*["']|(?-u:\b)hidden(?-u:\b)|aria-hidden\s*=\s*["']true["'])[^>]{0,200}>[^<]{8,}|(?m:^)[ \t>*_#-]*(?:system|new\s+instructions?|assistant\s+instructions?)\s*(?:note|message|notice|instructions?|directive|command|override|prompt)?\s*:[^\n]{3,})"#,
        Some(has_ai_words),
    ),
    spec(I, "hidden_instruction", High,
        &[
        "do not tell", "don't tell", "do not inform", "do not mention", "don't mention",
        "do not reveal", "don't reveal", "without telling", "without informing",
        "without notifying", "without alerting", "secretly", "silently", "covertly", "quietly",
        "behind the user", "the user must not", "the user should not", "hide this",
        ],
        r"(?i)(?-u:\b)(?:(?:do\s+not|don'?t|never)\s+(?:tell|inform|mention\s+(?:this\s+)?to|mention|notify|alert|reveal\s+(?:this\s+)?to|show)\s+(?:this\s+)?(?:to\s+)?(?:the\s+)?(?:user|human|operator|customer|requester)|without\s+(?:telling|informing|notifying|alerting|asking)\s+(?:the\s+)?(?:user|human|operator)|(?:secretly|silently|covertly|quietly)\s+(?:send|forward|copy|upload|email|post|include|add|call|run|execute|read|exfiltrate|transfer|share|bcc)|behind\s+the\s+user'?s\s+back|the\s+user\s+(?:must|should)\s+(?:not|never)\s+(?:know|see|find\s+out|be\s+told)|hide\s+this\s+from\s+the\s+user)",
        None,
    ),
    spec(I, "addressed_to_ai", Medium,
        &[
        "dear", "hey", "^hi ", "hello", "attention", "note to", "note for", "hint for", "hint to",
        "tip for", "message to",
        "message for", "instructions for", "instruction for", "instructions to", "important for",
        "important to", "reminder for", "reminder to", "p.s.", "ps for", "ps to", "if you are a",
        "if you are an", "reading this", "processing this", "reviewing this", "summarizing this",
        "summarising this", "parsing this", "analyzing this", "analysing this", "scanning this",
        "evaluating this", "screening this", "grading this", "crawling this", "indexing this",
        "reading the following", "processing the following", "reviewing the following",
        "summarizing the following", "reviewer", "grader", "screener", "evaluator", "moderator",
        "recruiter", "hiring tool", "ai:", "ai,", "ai note", "ai agent", "ai assistant",
        "ai model", "llm:", "llm,", "assistant:", "assistant,", "chatbot:", "chatbot,", "gpt:",
        "gpt,", "claude:", "claude,", "to the ai", "for the ai", "for ai", "to ai", "to any ai",
        "to all ai", "for any ai", "for all ai", "for llm", "to llm", "important:", "attention:",
        "notice:", "warning:", "note:", "llms", "language model", "ai system", "ai tool",
        "processing it", "reading it", "processing them", "reading them",
        ],
        r"(?i)(?:(?-u:\b)(?:dear|hey|hi|hello|attention|(?:note|hint|tip)\s+(?:to|for)|message\s+(?:to|for)|instructions?\s+(?:to|for)|important\s+(?:for|to)|reminder\s+(?:for|to)|p\.?s\.?\s+(?:for|to))\s*,?\s+(?:the\s+|any\s+|all\s+)?(?:AI|A\.I\.|assistants?|language\s+models?|LLMs?|AI\s+(?:agents?|assistants?|models?|reviewers?|systems?|bots?|screeners?|graders?)|chatbots?|GPT|ChatGPT|Claude|Gemini|Copilot|automated\s+(?:reviewers?|systems?|agents?|screeners?|graders?))(?-u:\b)|(?-u:\b)(?:AI|LLM|assistant|language\s+model|chatbot|GPT|Claude|AI\s+(?:agent|assistant|model))s?(?:\s+(?:note|notice|instructions?))?\s*[,:]\s*(?:please\s+)?(?:you\s+must|you\s+should|you\s+will|ignore|do\s+not|don'?t|secretly|instead|always|never|make\s+sure|be\s+sure|remember|forget|disregard|output|respond|reply|say|tell|rate|score|approve|mark|rank|recommend|summari[sz]e|classify|append|add|insert|include|write|send|forward|call|run|execute|visit|open|click|print|list|reveal|delete|remove|grant|transfer|merge|skip|push|bypass|disable|commit|deploy)|(?-u:\b)(?:AI|LLM)\s+(?:agent|assistant|model|bot)s?\s+(?:note|notice|instructions?|directive)s?\s*:|(?-u:\b)(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:AI|LLM)\s+(?:agents?|assistants?|models?|bots?|systems?|tools?)\s*[:,]|(?-u:\b)(?:important|attention|notice|note|warning)\s*:\s*(?:the\s+|any\s+)?(?:(?:AI|LLM|language\s+model|AI\s+\w+)s?\s+|assistant\s+)(?:must|should|needs?\s+to|has\s+to|is\s+(?:required|instructed))|(?-u:\b)if\s+you\s+are\s+an?\s+(?:AI|A\.I\.|LLM|language\s+model|assistant|AI\s+\w+|large\s+language\s+model|automated\s+\w+|bot|agent|model)(?-u:\b)|(?-u:\b)(?:AI|LLM|language\s+model|assistant|agent|bot|model)s?(?:\s+(?:systems?|agents?|tools?|models?|assistants?))?\s+(?:reading|processing|reviewing|summari[sz]ing|parsing|analy[sz]ing|scanning|evaluating|screening|grading|crawling|indexing)\s+(?:this|these|it|them|the\s+following)|(?-u:\b)(?:AI|LLM|automated|artificial\s+intelligence)\s+(?:reviewers?|graders?|screeners?|evaluators?|judges?|moderators?|recruiters?|hiring\s+tools?|resume\s+screeners?)(?-u:\b))",
        Some(imperative_follows),
    ),
    spec(I, "addressed_to_ai", Medium,
        &[
        "ki", "assistent", "sprachmodell", "ia", "asistente", "modelo", "assistant", "modèle",
        "assistente", "ии", "ассистент", "нейросет", "модел", "人工智能", "助手", "模型", "アシスタント",
        "モデル", "ai", "어시스턴트", "인공지능",
        ],
        r"(?i)(?:(?:hinweis|nachricht|anweisung|achtung|wichtig)\s+(?:an|für)\s+(?:die\s+|den\s+|das\s+)?(?:KI|Assistenten|Sprachmodell|KI-\w+)|(?:nota|mensaje|instrucci[óo]n(?:es)?|atenci[óo]n|importante)\s+para\s+(?:la\s+|el\s+)?(?:IA|asistente|modelo(?:\s+de\s+lenguaje)?)|(?:note|message|instructions?|attention|important)\s+(?:pour|à)\s+(?:l'|la\s+|le\s+)?(?:IA|assistant|modèle(?:\s+de\s+langage)?)|(?:nota|messaggio|istruzioni)\s+per\s+(?:l'|il\s+)?(?:IA|assistente|modello)|(?:nota|mensagem|instruções)\s+para\s+(?:a\s+|o\s+)?(?:IA|assistente|modelo)|(?:примечание|сообщение|инструкция|внимание)\s+(?:для|к)\s+(?:ИИ|ассистента|нейросети|модели)|(?:致|给|給)(?:AI|人工智能|助手|模型|大模型)|(?:AI|アシスタント|モデル)(?:へ|に)(?:の)?(?:指示|メッセージ|注意|お願い)|(?:AI|어시스턴트|인공지능)에게)",
        None,
    ),
    spec(I, "prompt_leak", High,
        &[
        "system prompt", "system message", "system instruction", "initial prompt",
        "initial instruction", "hidden prompt", "hidden instruction", "instructions above",
        "instructions you were given", "words above", "text above", "everything above",
        "prompt verbatim", "instructions verbatim", "guidelines verbatim", "developer message",
        "developer instruction", "developer prompt", "preprompt", "pre-prompt", "metaprompt",
        "meta-prompt", "configuration prompt", "original instructions", "systemprompt",
        "system-prompt", "systemanweisung", "ursprünglichen anweisungen", "prompt del sistema",
        "instrucciones del sistema", "instrucciones originales", "instrucciones iniciales",
        "prompt système", "invite système", "instructions système", "instructions initiales",
        "系统提示", "系統提示", "初始指令", "原始指令", "システムプロンプト", "初期指示", "системный промпт",
        "системные инструкции", "исходные инструкции", "시스템 프롬프트", "시스템프롬프트",
        ],
        r"(?i)(?:(?-u:\b)(?:reveal|print|show|display|output|repeat|tell\s+me|give\s+me|share|leak|dump|disclose|write\s+out|recite|spell\s+out|paste)\s+(?:me\s+|us\s+)?(?:all\s+)?(?:of\s+)?(?:your|the|its)\s+(?:full\s+|entire\s+|complete\s+|exact\s+|original\s+|initial\s+|hidden\s+|secret\s+|internal\s+|confidential\s+)*(?:system\s+(?:prompt|message|instructions?)|initial\s+(?:prompt|instructions?)|hidden\s+(?:prompt|instructions?)|instructions\s+(?:above|you\s+were\s+given)|(?:prompt|instructions)\s+verbatim|developer\s+(?:message|instructions?|prompt)|pre-?prompt|meta-?prompt|configuration\s+prompt|guidelines\s+verbatim)|(?-u:\b)what\s+(?:is|was|are|were)\s+your\s+(?:system\s+prompt|initial\s+instructions|original\s+instructions|hidden\s+instructions)|(?-u:\b)repeat\s+(?:the\s+)?(?:words|text|everything)\s+above|(?:zeige|gib|verrate|nenne)\s+(?:mir\s+)?(?:deinen|deine|den|die)\s+(?:System-?prompt|System-?anweisungen|ursprünglichen\s+Anweisungen)|(?:muestra|revela|dime|imprime)(?:me)?\s+(?:tu|el|las|tus)\s+(?:prompt\s+del\s+sistema|instrucciones\s+(?:del\s+sistema|originales|iniciales))|(?:montre|révèle|affiche|donne)[-\s](?:moi\s+)?(?:ton|le|tes|les)\s+(?:prompt\s+système|invite\s+système|instructions\s+(?:système|initiales))|(?:显示|顯示|输出|輸出|告诉我|告訴我|透露|打印)(?:你的)?(?:系统提示|系統提示|系统提示词|初始指令|原始指令|初始提示词?|原始提示词?|提示词)|(?:システムプロンプト|初期指示)を(?:表示|教え|出力)|(?:покажи|выведи|раскрой|напиши)\s+(?:мне\s+)?(?:свой|твой|свои|твои)?\s*(?:системный\s+промпт|системные\s+инструкции|исходные\s+инструкции)|시스템\s*프롬프트(?:를|을)?\s*(?:그대로\s*|전부\s*|모두\s*)?(?:보여|알려|출력))",
        None,
    ),
    spec(I, "data_exfiltration", High,
        &[
        "](http", "]( http", "<img", "exfiltrat", "conversation to", "conversation in",
        "conversation into", "history to", "chat to", "messages to", "context to", "data to",
        "secret to", "secrets to", "key to", "keys to", "credentials to", "password to",
        "passwords to", "token to", "tokens to", "files to", "file to", "contents to",
        "content to", "emails to", "documents to", "memory to", "variables to", "vars to",
        "to http", "at http",
        ],
        r#"(?i)(?:!?\[[^\]\n]{0,120}\]\(\s*https?://(?:[^)\s<{]+|<[^>\n]{0,100}>|\{[^}\n]{0,100}\})+\)|<img\s[^>]{0,200}src\s*=\s*["']https?://[^"'\s]{1,400}["']|(?-u:\b)exfiltrat\w*|(?-u:\b)(?:send|forward|upload|post|transmit|leak|append|include|encode)\s+(?:all\s+|the\s+|your\s+|this\s+|any\s+|every\s+)?(?:(?:user'?s?|previous|entire|full|whole|private|internal|stored)\s+)*(?:conversation(?:\s+(?:history|log|transcript))?|chat(?:\s+(?:history|log|transcript))?|messages|history|context|data|secrets?|api\s+keys?|credentials|passwords?|tokens?|files|contents?|emails?|documents?|memory|environment\s+variables|env\s+vars?|ssh\s+keys?)\s+(?:to|into|in)\s+(?:https?://|\S+@\S+\.\w+|the\s+(?:url|link|image|webhook|endpoint|following\s+(?:url|address|server)))|(?-u:\b)(?:to|at)\s+https?://\S+\?\S*=(?:\{|\[|<|\$))"#,
        Some(exfiltration),
    ),
    spec(I, "tool_shadowing", High,
        &[
        "when the user", "when you call", "when you use", "when you invoke", "when you run",
        "when the agent", "when the assistant", "whenever", "before you", "before using",
        "before calling", "before the user", "after you", "after calling", "after using",
        "after the user", "each time", "every time", "precedence", "priority over", "overrides",
        "override the", "supersedes", "replaces the", "bcc", "blind copy", "do not use the",
        "don't use the", "never use the", "do not call the", "don't call the", "never call the",
        "instead of using", "instead of calling", "rather than using", "rather than calling",
        "copy all", "forward all", "forward every",
        ],
        r#"(?i)(?-u:\b)(?:(?:when(?:ever)?|before|after|each\s+time|every\s+time)\s+(?:the\s+user\s+|you\s+|the\s+agent\s+|the\s+assistant\s+|an?\s+agent\s+)?(?:calls?|uses?|invokes?|runs?|executes?|requests?|sends?)\s+(?:the\s+|any\s+|another\s+|other\s+|a\s+)?[`'"]?[\w.-]+[`'"]?\s+(?:tool|function|server|command)s?[^.\n]{0,160}?(?:always|also|first|instead|must|should|make\s+sure|be\s+sure|secretly|silently|quietly|without|add|include|send|bcc|cc)|(?:this|these)\s+(?:instructions?|tool|rules?|description)\s+(?:take|takes|have|has)\s+(?:precedence|priority)\s+over|(?:overrides?|supersedes?|replaces?)\s+(?:the\s+)?(?:behaviou?r|instructions|description)s?\s+of\s+(?:the\s+|all\s+|any\s+)?(?:other\s+)?[\w`'"-]+\s+tools?|(?:do\s+not|don'?t|never)\s+(?:use|call|invoke)\s+(?:the\s+)?[`'"]?[\w.-]+[`'"]?\s+(?:tool|function)[^.\n]{0,80}(?:instead|use\s+this|only\s+use)|(?:instead\s+of|rather\s+than)\s+(?:using|calling)\s+(?:the\s+)?[`'"]?[\w.-]+[`'"]?\s+tool,?\s+(?:always\s+)?(?:use|call)\s+this|(?:always\s+)?(?:bcc|cc|blind\s+copy|copy|forward)\s+(?:all\s+|every\s+|each\s+)?(?:outgoing\s+)?(?:emails?|messages?|replies|mail)\s+to\s+\S+@\S+)"#,
        None,
    ),
    spec(I, "invisible_unicode", High,
        &[
        "\u{202A}", "\u{202B}", "\u{202C}", "\u{202D}", "\u{202E}", "\u{2066}", "\u{2067}",
        "\u{2068}", "\u{2069}", "\u{200B}", "\u{200C}", "\u{200D}", "\u{2060}", "\u{FEFF}",
        ],
        r"[\x{202A}-\x{202E}\x{2066}-\x{2069}]|[\x{200B}-\x{200D}\x{2060}\x{FEFF}]{2,}",
        None,
    ),
    spec(I, "invisible_unicode", High,
        &[],
        r"[\x{E0000}-\x{E007F}]+",
        None,
    ),
];

/// Not advice about ignoring something harmless (`ignore the previous email`) and not a
/// quote of the phrase in a discussion of prompt injection (`phrases such as "ignore all
/// previous instructions"`).
fn not_quoted_advice(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let lo = crate::guard::engine::floor_char(text, m.start.saturating_sub(60));
    let before = text[lo..m.start].to_lowercase();
    let discussing = [
        "such as",
        "like \"",
        "e.g.",
        "phrases like",
        "attacks like",
        "detects",
        "detect ",
        "example of",
        "examples of",
    ]
    .iter()
    .any(|w| before.contains(w));
    let quoted = before.ends_with('"') || before.ends_with('“') || before.ends_with('\'');
    if discussing && quoted {
        return None;
    }
    // The writer's own earlier message (`please disregard my earlier message`), not a
    // model's instructions.
    let said = text[m.clone()].to_lowercase();
    let own = said.contains(" my ")
        && [
            "message", "email", "e-mail", "mail", "note", "comment", "request",
        ]
        .iter()
        .any(|w| said.trim_end_matches('s').ends_with(w));
    // A question about a model that ignores its prompt (`why does my model ignore the
    // system prompt?`), not an order to one: a question whose subject is not "you".
    let sentence_start = before
        .rfind(['.', '!', '?', '\n', ':', '\''])
        .map_or(0, |k| k + 1);
    let asked = &before[sentence_start..];
    let question = text[m.end..]
        .split(['.', '!', '\n'])
        .next()
        .is_some_and(|rest| rest.contains('?'))
        && ["does ", "did ", "do ", "why ", "how come"]
            .iter()
            .any(|w| asked.contains(w))
        && !asked.contains("you");
    (!own && !question).then_some(m)
}

/// A phrase that only counts when said to someone: a second-person or AI word nearby.
fn second_person_near(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    context_has(
        text,
        m.start,
        m.end,
        120,
        80,
        &[
            "eres",
            "tú",
            "du ",
            "dich",
            "dein",
            "vous",
            "tu es",
            "tu sei",
            "sei ",
            "você",
            "voce",
            "ты",
            "теб",
            "你",
            "あなた",
            "당신",
            "너는",
            " ia",
            "ki ",
            "ki-",
            " ai",
            "asistente",
            "assistant",
            "assistent",
            "modelo",
            "modèle",
            "modell",
            "модель",
            "助手",
            "模型",
            "アシスタント",
            "モデル",
            "activa",
            "aktivier",
            "active",
            "attiva",
            "ativ",
            "включи",
            "启用",
            "有効",
            "now",
            "ahora",
            "jetzt",
            "maintenant",
            "ora ",
            "agora",
            "теперь",
            "现在",
            "今から",
            "이제",
        ],
    )
    .then_some(m)
}

/// What a fake system message says that a real one in code or documentation does not.
#[rustfmt::skip]
const MISUSE_WORDS: &[&str] = &[
    "ignore", "disregard", "override", "bypass", "reveal", "leak", "restriction", "unrestricted",
    "jailbreak", "developer mode", "dan ", "admin", "root", "sudo", "credential", "password",
    "secret", "api key", "token", "exfiltrat", "send ", "forward", "transfer", "delete", "drop ",
    "wire ", "always call", "must call", "new policy", "policy:", "maintenance mode", "comply",
    "obey", "disable", "do not tell", "don't tell", "hidden", "confidential", "system prompt",
    "you are now", "from now on", "no longer", "unfiltered", "uncensored", "approve",
];

/// A role marker or a fake system message: what follows it must misuse the role (an
/// ordinary `{"role": "system", "content": "You are a helpful assistant."}` in code, or a
/// chat-format example in documentation, does not).
fn not_documentation(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let marker = &text[m.clone()];
    let after = text[m.end..].trim_start();
    // `[SYSTEM] 2024-06-11 02:00:00 …`: a log line's tag, not a message.
    if marker.starts_with('[') && after.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // `{"role": "system", "content": SYSTEM_PROMPT}`: code building a message from a
    // variable, not a message.
    if marker.contains("role") {
        let rest = after.trim_start_matches([',', ' ', '\n', '\t']);
        let content = rest
            .strip_prefix("\"content\"")
            .or_else(|| rest.strip_prefix("'content'"))
            .map(|r| r.trim_start().trim_start_matches(':').trim_start());
        if content.is_some_and(|c| c.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_'))
        {
            return None;
        }
    }
    context_has(text, m.start, m.end, 0, 300, MISUSE_WORDS).then_some(m)
}

/// Markup or a `SYSTEM:` line that carries words of an instruction to a model (a log line
/// `SYSTEM: backup completed` does not).
pub(crate) fn has_ai_words(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = text[m.clone()].to_lowercase();
    let tag = s.trim_start().starts_with('<') && !s.starts_with("<!--") && s.len() < 40;
    // A label that says it is an instruction to the system (`SYSTEM INSTRUCTION:`,
    // `SYSTEM OVERRIDE:`): logs and status lines do not call themselves that.
    let label = s.split(':').next().unwrap_or_default();
    if label.contains("system")
        && ["instruction", "directive", "override", "command", "prompt"]
            .iter()
            .any(|w| label.contains(w))
    {
        return Some(m);
    }
    if tag && !s.contains("style") && !s.contains("hidden") {
        // `<IMPORTANT>`, `</instructions>`: markers on their own.
        return Some(m);
    }
    let line = s.trim_start_matches(|c: char| " \t>*_#-".contains(c));
    if !s.starts_with('<') {
        // A log line: `SYSTEM: …` after a timestamp or with a level, or a short status.
        let body = line.split_once(':').map_or("", |(_, b)| b).trim();
        let logish = body.starts_with(|c: char| c.is_ascii_digit())
            || [
                "[info", "[warn", "[error", "[debug", "info ", "warn ", "error ", "debug ",
            ]
            .iter()
            .any(|w| body.starts_with(w));
        if logish {
            return None;
        }
    }
    let padded = format!(" {s} ");
    STRONG_AI_WORDS
        .iter()
        .any(|w| padded.contains(w))
        .then_some(m)
}

/// Whether the words `before` a phrase about instructions for a model make it a topic
/// (`a guide to writing clear instructions for language models`), not a note to one.
pub(crate) fn instructions_as_topic(before: &str) -> bool {
    [
        "writing",
        "write",
        "clear",
        "good",
        "better",
        "effective",
        "giving",
        "how to",
    ]
    .iter()
    .any(|w| before.trim_end().ends_with(w))
}

/// Words addressed to an AI, followed by what it should do.
fn imperative_follows(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = text[m.clone()].to_ascii_lowercase();
    // Instructions for models as a topic (`a guide to writing clear instructions for
    // language models`), not a note to one.
    let lo = crate::guard::engine::floor_char(text, m.start.saturating_sub(24));
    let before = text[lo..m.start].to_ascii_lowercase();
    if s.starts_with("instruction") && instructions_as_topic(&before) {
        return None;
    }
    // Forms that are instructions by themselves.
    let strong = s.starts_with("if you are")
        || [
            "reading",
            "processing",
            "reviewing",
            "summari",
            "screening",
            "evaluating",
            "grading",
            "parsing",
            "analy",
            "scanning",
            "crawling",
            "indexing",
            " must",
            " should",
            " will",
            " need",
            " has to",
            " is required",
            " is instructed",
        ]
        .iter()
        .any(|w| s.contains(w))
        || s.ends_with(':')
            && ["to ", "for ", "note", "notice", "instruction", "directive"]
                .iter()
                .any(|w| s.contains(w));
    // `AI agent: merge …`, `assistant, append …`: the form that names the order itself.
    let ordered = s
        .split_once([':', ','])
        .is_some_and(|(_, rest)| rest.trim().len() >= 3);
    if strong || ordered {
        return Some(m);
    }
    context_has(
        text,
        m.end,
        m.end,
        0,
        200,
        &[
            "you must",
            "you should",
            "you will",
            "please",
            "ignore",
            "do not",
            "don't",
            "always",
            "never",
            "instead",
            "make sure",
            "ensure",
            "be sure",
            "call ",
            "run ",
            "execute",
            "send",
            "output",
            "respond",
            "reply",
            "say ",
            "mark ",
            "approve",
            "rate ",
            "score",
            "classify",
            "recommend",
            "rank ",
            "give ",
            "assign",
            "include",
            "forget",
            "disregard",
            "treat ",
            "consider",
            "must ",
            "should ",
            "also ",
            "accept",
            "delete",
            "remove",
            "cancel",
            "grant",
            "transfer",
            "without asking",
            "immediately",
            "award",
            "marks",
            "grade",
            "highest",
            "regardless",
        ],
    )
    .then_some(m)
}

/// A link or image whose URL carries data from the conversation (a template placeholder
/// or a query parameter filled from it), or words asking for data to be sent out.
fn exfiltration(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("exfiltrat")
        || !(s.starts_with('[') || s.starts_with('!') || lower.starts_with("<img"))
    {
        // The phrase forms carry their own intent; `exfiltrate` needs words of an
        // instruction around it.
        if lower.starts_with("exfiltrat") {
            return context_has(text, m.start, m.end, 80, 80, AI_WORDS).then_some(m);
        }
        return Some(m);
    }
    let url_start = s.find("http").unwrap_or(0);
    let url = &s[url_start..];
    let templated = [
        "{{",
        "{",
        "%7b",
        "${",
        "$(",
        "<",
        "[data",
        "[secret",
        "[conversation",
        "[history",
    ]
    .iter()
    .any(|t| url.to_ascii_lowercase().contains(t));
    let filled = url.contains('?')
        && [
            "=data",
            "=secret",
            "=token",
            "=info",
            "=context",
            "=history",
            "=chat",
            "=conversation",
            "=password",
            "=key",
            "=email",
            "=user",
            "=summary",
            "=memory",
            "=base64",
            "=prompt",
            "=messages",
            "=q&",
            "=private",
        ]
        .iter()
        .any(|t| url.to_ascii_lowercase().contains(t));
    let told = context_has(
        text,
        m.start,
        m.end,
        200,
        200,
        &[
            "replace",
            "fill in",
            "substitute",
            "append the",
            "base64",
            "url-encode",
            "urlencode",
            "with the user's",
            "render this image",
            "display this image",
            "show this image",
            "render the image",
        ],
    );
    (templated || filled || told).then_some(m)
}
