"""The words `understanding` knows, folded (lower case, no accents): spellings, answers, topics, commands.

Each group is a tuple of phrases (a phrase: a tuple of folded words). Adding a word here changes what
parents are understood to say: add the utterance to the labelled corpus in the tests first.
"""

from __future__ import annotations

Phrase = tuple[str, ...]


def phrases(*texts: str) -> tuple[Phrase, ...]:
    """Phrases written as folded words separated by spaces."""
    return tuple(tuple(text.split()) for text in texts)


# --- vocabulary (folded: lower case, no accents) ---------------------------------------------

# One typed word → its canonical words (SMS spellings, variants, English synonyms of topic words).
SPELLINGS: dict[str, str] = {
    **dict.fromkeys(["nn", "nan", "non", "nonn"], "non"),
    **dict.fromkeys(["nop", "nope", "nah", "niet", "nein"], "nope"),
    **dict.fromkeys(
        ["wi", "ui", "oui", "ouii", "ouai", "ouais", "ouaip", "ouep", "oue", "wai", "wii", "voui", "ouaii"], "oui"
    ),
    **dict.fromkeys(["yes", "yep", "yeah", "yup", "yess", "ye", "yea"], "yes"),
    **dict.fromkeys(["ok", "okay", "oki", "okey", "okk", "kk", "okok", "oke", "okai", "k"], "ok"),
    **dict.fromkeys(["dac", "dak", "dacc", "daccord", "dacor", "dacord", "daccor"], "d accord"),
    **dict.fromkeys(["jsp", "jsai", "jspa", "jsais"], "je sais pas"),
    **dict.fromkeys(["chais", "chai", "che"], "je sais"),
    **dict.fromkeys(["jai", "g"], "j ai"),
    **dict.fromkeys(["jveux", "jveu", "veu"], "je veux"),
    **dict.fromkeys(["chui", "chuis", "jsuis", "jsui"], "je suis"),
    "cest": "c est",
    **dict.fromkeys(["pa", "po"], "pas"),
    **dict.fromkeys(["jamai", "jame"], "jamais"),
    **dict.fromkeys(["stp", "svp", "pls", "plz", "please", "plait", "plai"], "stp"),
    **dict.fromkeys(["mrc", "mci", "mrci", "merci", "mercii", "thx", "thanks", "thank", "ty", "tx", "merki"], "merci"),
    **dict.fromkeys(
        ["bjr", "bonjour", "slt", "salut", "hello", "hi", "hey", "coucou", "bonsoir", "bsr", "yo", "cc", "hallo"],
        "bonjour",
    ),
    **dict.fromkeys(["pk", "pq", "pkoi", "pourkoi", "pourquoi", "pourquoa"], "pourquoi"),
    **dict.fromkeys(["koi", "quoi", "kwa", "koa"], "quoi"),
    "ke": "que",
    **dict.fromkeys(["keske", "kesk", "kes", "kesako", "quesaco"], "qu est ce que"),
    **dict.fromkeys(["mdp", "mdps", "pwd", "passwd", "password"], "mot de passe"),
    **dict.fromkeys(
        ["id", "identifiant", "identifiants", "login", "username", "identifier", "identifient", "pseudo"], "identifiant"
    ),
    **dict.fromkeys(["qqn", "qqun", "qq1", "kelkun", "quelquun", "someone", "somebody"], "quelqu un"),
    "bcp": "beaucoup",
    "tt": "tout",
    **dict.fromkeys(["tjs", "tjrs", "tjr"], "toujours"),
    "pr": "pour",
    "ds": "dans",
    "ms": "mais",
    "dsl": "desole",
    "moa": "moi",
    "ya": "il y a",
    **dict.fromkeys(["recu", "recus", "recue", "recues"], "recu"),
    **dict.fromkeys(["deco", "deconnection", "deconexion"], "deconnexion"),
    **dict.fromkeys(["idk", "dunno"], "dont know"),
    **dict.fromkeys(["pe", "ptet", "ptetre", "ptete", "peutetre"], "peut etre"),
    **dict.fromkeys(["enfant", "enfants", "enfans", "enfan", "enfts", "enft", "enfnt"], "enfants"),
    **dict.fromkeys(["courrier", "courier", "courriers"], "courrier"),
    **dict.fromkeys(["lettre", "lettres", "letter", "letters"], "lettre"),
    **dict.fromkeys(["rattache", "rattaches", "rattachee", "rattachees"], "rattache"),
}

# Several typed words → canonical words.
SPELLING_PHRASES: tuple[tuple[Phrase, Phrase], ...] = (
    (("thank", "you"), ("merci",)),
    (("merci", "you"), ("merci",)),
    (("s", "il", "vous", "plait"), ("stp",)),
    (("s", "il", "te", "plait"), ("stp",)),
    (("s", "il", "vous", "plais"), ("stp",)),
    (("s", "il", "te", "plais"), ("stp",)),
    (("sil", "vous", "plait"), ("stp",)),
    (("sil", "te", "plait"), ("stp",)),
    (("nom", "d", "utilisateur"), ("identifiant",)),
    (("user", "name"), ("identifiant",)),
    (("user", "id"), ("identifiant",)),
    (("c", "koi"), ("c", "est", "quoi")),
    (("c", "quoi"), ("c", "est", "quoi")),
    (("c", "bon"), ("c", "est", "bon")),
    (("d", "acc"), ("d", "accord")),
    (("don", "t"), ("dont",)),
    (("do", "not"), ("dont",)),
    (("doesn", "t"), ("dont",)),
    (("didn", "t"), ("dont",)),
    (("isn", "t"), ("not",)),
    (("can", "t"), ("not",)),
    (("i", "m"), ("i", "am")),
)

EMOJI = {
    "👍": " ok ",
    "👌": " ok ",
    "✅": " ok ",
    "✔": " ok ",
    "👎": " non ",
    "❌": " non ",
    "🙏": " merci ",
    "👋": " bonjour ",
}

# Negation: an answer (« non ») or a sentence negation (« ne … pas »).
ANSWER_NEGATIONS = frozenset({"non", "no", "nope"})
SENTENCE_NEGATIONS = frozenset(
    {"ne", "n", "pas", "jamais", "aucun", "aucune", "rien", "ni", "not", "never", "dont", "nullement", "aucunement"}
)
NEGATIONS = ANSWER_NEGATIONS | SENTENCE_NEGATIONS

YES = phrases(
    "oui", "yes", "ok", "d accord", "bien sur", "evidemment", "exact", "exactement", "correct", "parfait",
    "absolument", "certainement", "volontiers", "carrement", "tout a fait", "c est ca", "c est bien ca",
    "c est le bon", "c est la bonne", "c est bien le bon", "c est bien la bonne", "le bon compte", "bon compte",
    "c est bon", "c est bien", "c est lui", "c est bien lui", "c est elle", "c est moi", "ca marche", "ca roule",
    "ca me va", "vas y", "allez y", "allons y", "go", "let s go", "lets go", "continuer", "continue", "continuez",
    "continuons", "poursuivre", "valider", "valide", "validez", "confirmer", "confirme", "confirmez",
    "affirmatif", "voila", "sure", "of course", "right", "indeed", "agreed", "agree", "fine", "tres bien",
    "entendu", "super", "top", "nickel", "impeccable", "genial", "cool", "that s right", "that s it", "correcte",
    "c est juste", "juste", "tout bon", "bien vu", "yes it is", "its me", "it s me", "on y va", "c est parti",
    "c parti",
)  # fmt: skip
YES_ALONE = frozenset({("si",), ("bien",)})  # « si » / « bien » mean yes only when typed alone

NO = phrases(
    "non", "nope", "no", "pas du tout", "absolument pas", "certainement pas", "surement pas", "evidemment pas",
    "bien sur que non", "evidemment que non", "certainement que non", "que non", "jamais", "pas question",
    "hors de question", "veux pas", "veut pas", "voulons pas", "voudrais pas", "ne veux", "souhaite pas",
    "refuse", "refuser", "pas d accord", "pas ok", "pas le bon", "pas la bonne", "pas les bons", "pas bon",
    "pas correct", "pas exact", "pas juste", "pas ca", "pas moi", "pas lui", "pas elle", "pas celui",
    "pas mon compte", "pas le mien", "pas la mienne", "pas les miens", "pas mes enfants", "pas mon fils",
    "pas ma fille", "pas mon enfant", "pas mes", "mauvais", "mauvaise", "faux", "fausse", "incorrect", "erreur",
    "wrong", "no way", "not mine", "not my", "not me", "not this", "not the right", "not correct", "not ok",
    "not right", "pas vraiment", "not really", "dont want", "disagree", "desaccord", "negatif", "pas celle",
    "pas ce compte", "pas cet", "pas cette", "pas les", "pas le", "surtout pas", "pas pour",
)  # fmt: skip
# Idioms that say yes with a negation: never agreement, read as unknown.
NEGATIVE_IDIOMS = phrases(
    "pourquoi pas", "pas de souci", "pas de soucis", "pas de probleme", "pas de problemes", "pas grave", "no problem",
    "sans probleme", "not bad", "no worries",
)  # fmt: skip

DONT_KNOW = phrases(
    "sais pas", "sait pas", "sais plus", "sait plus", "je ne sais", "aucune idee", "pas d idee", "sans idee",
    "pas sur", "pas sure", "pas certain", "pas certaine", "je doute", "peut etre", "en sais rien", "sais rien",
    "dont know", "no idea", "not sure", "maybe", "perhaps", "no clue", "ne me souviens", "me souviens pas",
    "me souviens plus", "me rappelle pas", "me rappelle plus", "souviens pas", "rappelle plus", "oublie",
    "oubliee", "connais pas", "ne connais", "je l ai pas", "je ne l ai", "l ai perdu", "l ai perdue",
    "pas trop", "bof", "hesite", "l ai plus", "l ai pu", "j hesite", "forgot", "forgotten", "don t remember",
    "dont remember", "ne sais pas", "sais po",
)  # fmt: skip
HEDGES = phrases(
    "je crois", "je pense", "probablement", "normalement", "surement", "il me semble", "je suppose", "i think",
    "i guess", "probably", "possible", "possiblement", "crois", "pense",
)  # fmt: skip

HELP = phrases(
    "aide", "aider", "aidez", "aidez moi", "help", "help me", "sos", "au secours", "comprends pas",
    "comprend pas", "pas compris", "compris", "comprends rien", "comprend rien", "suis perdu", "suis perdue",
    "explique", "expliquer", "expliquez", "explication", "explications", "comment faire", "comment on fait",
    "comment ca marche", "que faire", "quoi faire", "fais quoi", "fait quoi", "mode d emploi", "hein", "info",
    "infos", "information", "informations", "instructions", "commandes", "dont understand", "how does it work",
    "what do i do", "confused", "besoin d aide", "comment", "what", "huh", "exemple", "un exemple", "example",
    "complique", "compliquee", "trop complique", "difficile", "trop dur", "galere", "arrive pas", "marche pas",
    "fonctionne pas", "bloque", "bloquee", "coince",
)  # fmt: skip
# At the legal-guardian step, a question asking for a definition is about the legal guardian.
DEFINITION = phrases("quoi", "veut dire", "signifie", "c est quoi", "what", "mean", "means", "definition")
# Words that make « représentant légal » an answer at the legal-guardian step (« je suis son représentant légal »).
STATEMENT = phrases("suis", "am", "oui", "non", "yes", "no", "c est moi", "je")
SCHOOL = phrases("ecole", "etablissement", "college", "lycee", "school", "directeur", "directrice", "secretariat")

AGENT = phrases(
    "conseiller", "conseillere", "conseillers", "humain", "humaine", "agent", "human", "operateur", "operatrice",
    "vraie personne", "une personne", "quelqu un", "parler a", "parler avec", "parler", "appeler", "telephoner",
    "rappeler", "contacter", "assistance", "support", "service client", "helpdesk", "hotline", "standardiste",
    "real person", "talk to", "speak to", "person", "representative", "someone",
)  # fmt: skip

CANCEL = phrases(
    "annuler", "annule", "annulez", "annulons", "annulation", "cancel", "stop", "stopper", "arreter", "arrete",
    "arretez", "arretons", "abandonner", "abandonne", "abandon", "laisse tomber", "laissez tomber", "tant pis",
    "quitter", "quitte", "quit", "exit", "retour", "back", "go back", "revenir", "en arriere",
)  # fmt: skip
LOGOUT = phrases(
    "deconnexion", "deconnecter", "deconnecte", "deconnectez", "logout", "log out", "sign out", "signout",
    "log off",
)  # fmt: skip
RESTART = phrases(
    "recommencer", "recommence", "recommencons", "reprendre a zero", "depuis le debut", "du debut", "a zero",
    "restart", "start over", "start again", "reset", "reinitialiser", "menu", "menu principal", "page d accueil",
    "start", "retour au menu", "revenir au menu", "retour a l accueil",
)  # fmt: skip

ENGLISH = phrases("english", "anglais", "anglai", "inglese", "ingles")
FRENCH = phrases("french", "francais")
SPEAK = phrases("speak", "parle", "parlez", "parler", "understand", "comprends", "comprend", "read")

PASSWORD_TOPIC = phrases("mot de passe", "provisoire", "temporaire", "temporary", "code", "codes")
TEMPORARY = phrases("provisoire", "temporaire", "temporary")
IDENTIFIER_TOPIC = phrases("identifiant", "utilisateur", "user")
GUARDIAN_TOPIC = phrases(
    "representant legal", "representante legale", "representant", "representante", "legal guardian", "guardian",
    "autorite parentale", "responsable legal", "tuteur legal", "tutrice legale", "legal", "legale",
)  # fmt: skip
LETTER_TOPIC = phrases(
    "courrier", "lettre", "mail", "email", "e mail", "enveloppe", "papier", "document", "notification", "sms",
)  # fmt: skip
RECEIVED = phrases(
    "recu", "receive", "received", "got", "get", "eu", "arrive", "arrivee", "donne", "envoye", "envoyer",
    "transmis", "send", "sent", "obtenu",
)  # fmt: skip
NOT_RECEIVED = phrases(
    "jamais recu", "toujours pas", "rien recu", "n ai rien", "pas recu", "attends toujours", "perdu le courrier",
    "perdu la lettre", "perdu le papier", "egare", "never got", "never received", "didn t get", "didn t receive",
    "no letter", "pas de courrier", "pas de lettre", "aucun courrier", "aucune lettre", "pas eu",
)  # fmt: skip
LOST = phrases(
    "perdu", "perdue", "egare", "egaree", "retrouve plus", "retrouve pas", "trouve plus", "jete", "jetee", "lost",
)  # fmt: skip
INQUIRY = frozenset(
    {
        "ou", "trouver", "trouve", "quoi", "quel", "quelle", "quels", "quelles", "comment", "pourquoi", "veut",
        "signifie", "explique", "expliquer", "aide", "help", "where", "what", "which", "find", "lost", "forgot",
        "forgotten", "perdu", "perdue", "oublie", "oubliee", "egare", "sais", "connais", "rappelle", "souviens",
        "ressemble", "format", "exemple", "example", "look", "like", "mean", "means", "dire", "definition",
        "savoir", "est ce", "have", "ai", "trouvable", "cherche",
    }
)  # fmt: skip

PARENT = phrases(
    "sa mere", "son pere", "la mere", "le pere", "sa maman", "son papa", "maman", "papa", "mere", "pere",
    "le parent", "son parent", "parent", "parents", "tuteur", "tutrice", "mother", "father", "mum", "mom", "dad",
    "c est mon fils", "c est ma fille", "c est mon enfant", "mon fils", "ma fille", "mon enfant", "his mother",
    "her mother", "his father", "her father",
)  # fmt: skip
RELATIVE = phrases(
    "grand mere", "grand pere", "beau pere", "belle mere", "grands parents", "tante", "oncle", "nounou", "frere",
    "soeur", "cousin", "cousine", "voisin", "voisine", "ami", "amie", "famille d accueil", "grandmother",
    "grandfather", "grandma", "grandpa", "aunt", "uncle", "stepfather", "stepmother", "step", "nanny",
    "assistante familiale", "educateur", "educatrice", "garde", "beau fils", "belle fille", "niece", "neveu",
    "petit fils", "petite fille", "parrain", "marraine",
)  # fmt: skip

LINK = phrases(
    "ajouter", "ajout", "ajoute", "ajoutez", "rajouter", "rajoute", "rattacher", "rattache", "rattachement",
    "regrouper", "regroupe", "regroupement", "fusionner", "fusion", "fusionne", "lier", "relier", "associer",
    "joindre", "rassembler", "reunir", "transferer", "add", "link", "merge", "attach", "combine", "autre compte",
    "deux comptes", "2 comptes", "second compte", "deuxieme compte", "nouvel enfant", "un enfant", "un autre",
    "mettre", "rattachee",
)  # fmt: skip
# A child missing from the account: a wish to link it, even though the sentence is negative.
MISSING = phrases(
    "manque", "manquant", "manquante", "manquent", "apparait pas", "n apparait", "apparaissent pas", "pas dans",
    "absent", "absente", "introuvable", "missing", "ne vois pas", "vois pas", "ne trouve pas", "trouve pas",
    "pas rattache", "pas la", "not showing", "not there", "not on", "pas tous", "pas toutes", "ne sont pas",
    "n est pas", "pas encore", "pas sur mon compte",
)  # fmt: skip
# Children already on the account: a wish to see them.
ALREADY = phrases(
    "sont rattache", "est rattache", "deja rattache", "enfants rattache", "sur mon compte", "on my account",
    "dans mon compte",
)  # fmt: skip
VIEW = phrases(
    "voir", "vois", "afficher", "affiche", "liste", "lister", "consulter", "montrer", "montre", "see", "show",
    "list", "view", "qui est", "qui sont", "quels sont", "mes enfants", "my children", "my kids", "enfants",
    "children", "kids", "mes fils", "mes filles", "mes gamins", "mes eleves", "mes gosses", "mes petits",
)  # fmt: skip
CHILD = phrases(
    "mon fils", "ma fille", "mon gamin", "ma gamine", "mon gosse", "mon petit", "ma petite", "mon ado",
    "mon eleve", "my son", "my daughter", "my child", "my kid", "a child", "a son", "a daughter", "child", "fils",
    "fille", "eleve", "bebe", "daughter",
)  # fmt: skip

THANKS = phrases(
    "merci", "c est gentil", "tres gentil", "trop gentil", "au revoir", "bye", "bye bye", "bonne journee",
    "bonne soiree", "bonne nuit", "a plus", "a bientot", "ciao", "see you", "goodbye", "good bye", "cheers",
    "a la prochaine", "merci pour votre aide", "merci pour ton aide", "merci pour l aide", "merci de votre aide",
    "merci de l aide", "thanks for your help", "merci pour tout",
)  # fmt: skip
GREETING = phrases("bonjour", "ca va", "comment ca va", "comment allez vous", "how are you", "good morning")
# Words that may surround a greeting or a thanks without changing it.
FILLER = frozenset(
    {
        "stp", "madame", "monsieur", "mme", "mr", "m", "a", "vous", "toi", "tous", "le", "la", "bot", "robot",
        "beaucoup", "encore", "bien", "tres", "infiniment", "mille", "fois", "pour", "tout", "votre", "ton",
        "et", "much", "so", "very", "you", "for", "everything", "again", "your", "lot", "de", "du",
        "oh", "ah", "euh", "bon", "alors", "voila", "re", "there", "everyone",
    }
)  # fmt: skip

INTERROGATIVE_STARTS = phrases(
    "comment", "pourquoi", "quoi", "quel", "quelle", "quels", "quelles", "combien", "quand", "qui", "que faire",
    "que dois", "que signifie", "qu est ce", "est ce que", "c est quoi", "ca veut dire", "ou est", "ou sont",
    "ou se", "ou trouver", "ou je", "ou puis", "ou on", "ou ca", "ou il", "ou elle", "how", "what", "whats",
    "where", "wheres", "why", "when", "who", "which", "can i", "can you", "could", "do you", "does", "is it",
    "is this", "are you", "est il", "est elle", "pouvez vous", "peux tu", "puis je", "dois je", "faut il",
    "avez vous", "as tu", "y a t il", "vous etes", "tu es", "a quoi",
)  # fmt: skip
QUESTION_ANYWHERE = phrases("est ce que", "c est quoi", "ca veut dire", "veut dire quoi", "ca sert a quoi")

# Words that make a run of words a sentence rather than a passphrase or an identifier.
FUNCTION_WORDS = frozenset(
    {
        "je", "tu", "il", "elle", "on", "nous", "vous", "le", "la", "les", "un", "une", "des", "de", "du", "mon",
        "ma", "mes", "ton", "ta", "son", "sa", "ses", "ce", "ca", "cet", "cette", "est", "suis", "ai", "as", "ont",
        "sont", "et", "mais", "pour", "dans", "avec", "sur", "que", "qui", "ne", "pas", "me", "se", "en", "au",
        "aux", "moi", "lui", "leur", "i", "my", "the", "an", "is", "it", "to", "of", "and", "you", "your", "have",
        "has", "do", "not", "dont", "am", "are", "was", "this", "that", "what", "where",
    }
)  # fmt: skip

# Words never corrected into a keyword: real words one typo away from one.
NEVER_CORRECTED = frozenset(
    {
        "annuel", "annuelle", "invalide", "incorrect", "conseil", "valise", "salut", "enfance",
        "content", "contenu", "compter", "parent", "parents", "garder", "regarde", "regarder", "merde", "aller",
        "alors", "juste", "quitte", "menus", "porte", "partie", "lettres", "lettre", "compte", "comptes", "enfin",
        "inscrits", "inscrit", "arrive", "arrivee", "donne", "sorte", "sortie", "retourne", "pere", "mere",
    }
)  # fmt: skip


def _vocabulary() -> tuple[frozenset[str], dict[str, list[str]]]:
    """Every keyword, and the keywords of 5 letters or more that typos are corrected into, by first letter."""
    groups = (
        YES, NO, DONT_KNOW, HEDGES, HELP, AGENT, CANCEL, LOGOUT, RESTART, ENGLISH, FRENCH, SPEAK,
        PASSWORD_TOPIC, IDENTIFIER_TOPIC, GUARDIAN_TOPIC, LETTER_TOPIC, RECEIVED, NOT_RECEIVED, LOST, PARENT,
        RELATIVE, LINK, MISSING, ALREADY, VIEW, CHILD, THANKS, GREETING, NEGATIVE_IDIOMS, DEFINITION,
        SCHOOL,
    )  # fmt: skip
    words = {word for group in (*groups, YES_ALONE) for phrase in group for word in phrase}
    words |= {word for canonical in SPELLINGS.values() for word in canonical.split()}
    targets: dict[str, list[str]] = {}
    for word in sorted(words | set(SPELLINGS)):
        if len(word) >= 5 and word.isalpha():
            targets.setdefault(word[0], []).append(word)
    return frozenset(words | set(SPELLINGS)), targets


KNOWN, TYPO_TARGETS = _vocabulary()
AGREEMENT_WORDS = frozenset(word for phrase in YES for word in phrase if len(phrase) == 1)
COMMAND_WORDS = frozenset(
    word for group in (CANCEL, LOGOUT, RESTART) for phrase in group for word in phrase if len(phrase) == 1
)
