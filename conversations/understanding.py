"""What a parent's free reply means at a given step: deterministic rules, explained, never guessing.

Reading order of `understand`:

1. the text is cleaned (control characters, accents, case, typographic apostrophes, emoji) and cut
   into words; SMS spellings are expanded (« jsp » → « je sais pas », « wi » → « oui ») and typos of
   long keywords are corrected with rapidfuzz (optimal string alignment distance 1, or 2 for words of
   8 letters and more; same first letter; words under 5 letters only exactly; into an agreement word
   only one edit in words of 7 letters or more, into a command only one edit in words of 6 or more);
2. a "/command" is a command; a question (ending with « ? », or opening with « comment », « où est »,
   « c'est quoi », « what »…) is never data, never agreement and never destructive; at a credential
   step a text made only of code-like pieces (« c.martin7 », « K7QX-M2PA-9TZC », « k7qx m2pa 9tzc »)
   is data;
3. the meanings are tried by priority: language, agent, destructive commands (only when clear and
   short), topics asked about (letter, identifier, temporary password, legal guardian), help,
   « je ne sais pas », at the legal-guardian step « je suis sa mère » / « sa grand-mère », yes / no,
   the menu, thanks and greetings;
4. what is left is data at a credential step (one word, or words that do not make a sentence), help
   when it is a question, unknown otherwise.

Safety rules, checked again at the end: a text with a negation is never YES; a question, a command
or a help word is never DATA; CANCEL, LOGOUT, RESTART are never read from a negated, hesitant,
conflicting or questioning text. At SECRET and NEW_PASSWORD steps the explanation names the rule
only, never a word of the text.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from conversations.commands import find_command
from conversations.text_input import fold, without_control_characters


class Expectation(enum.StrEnum):
    """What the step waiting for the reply asks for."""

    MENU = "menu"
    YES_NO = "yes_no"
    GUARDIAN = "guardian"
    IDENTIFIER = "identifier"
    SECRET = "secret"
    NEW_PASSWORD = "new_password"
    FREE = "free"


class Meaning(enum.StrEnum):
    """What the reply means."""

    YES = "yes"
    NO = "no"
    DONT_KNOW = "dont_know"
    CANCEL = "cancel"
    HELP = "help"
    AGENT = "agent"
    MY_CHILDREN = "my_children"
    LINK_CHILD = "link_child"
    THANKS = "thanks"
    GREETING = "greeting"
    ASK_TEMPORARY_PASSWORD = "ask_temporary_password"
    ASK_IDENTIFIER = "ask_identifier"
    ASK_LEGAL_GUARDIAN = "ask_legal_guardian"
    NO_LETTER_RECEIVED = "no_letter_received"
    ENGLISH = "english"
    LOGOUT = "logout"
    RESTART = "restart"
    DATA = "data"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reading:
    """A meaning, the rule that decided it (for logs and tests) and how sure the rule is (0 to 1)."""

    meaning: Meaning
    explanation: str
    confidence: float = 1.0


CREDENTIAL_STEPS = frozenset({Expectation.IDENTIFIER, Expectation.SECRET, Expectation.NEW_PASSWORD})
SECRET_STEPS = frozenset({Expectation.SECRET, Expectation.NEW_PASSWORD})
DESTRUCTIVE = frozenset({Meaning.CANCEL, Meaning.LOGOUT, Meaning.RESTART})
TYPO_CONFIDENCE = 0.8
MAX_COMMAND_WORDS = 8  # a command word in a longer message is not taken as a command (« au début j'ai… »)

Phrase = tuple[str, ...]


def _phrases(*texts: str) -> tuple[Phrase, ...]:
    """Phrases written as folded words separated by spaces."""
    return tuple(tuple(text.split()) for text in texts)


# --- vocabulary (folded: lower case, no accents) ---------------------------------------------

# One typed word → its canonical words (SMS spellings, variants, English synonyms of topic words).
_SPELLINGS: dict[str, str] = {
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
_SPELLING_PHRASES: tuple[tuple[Phrase, Phrase], ...] = (
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

_EMOJI = {
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

_YES = _phrases(
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
_YES_ALONE = frozenset({("si",), ("bien",)})  # « si » / « bien » mean yes only when typed alone

_NO = _phrases(
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
_NEGATIVE_IDIOMS = _phrases(
    "pourquoi pas", "pas de souci", "pas de soucis", "pas de probleme", "pas de problemes", "pas grave", "no problem",
    "sans probleme", "not bad", "no worries",
)  # fmt: skip

_DONT_KNOW = _phrases(
    "sais pas", "sait pas", "sais plus", "sait plus", "je ne sais", "aucune idee", "pas d idee", "sans idee",
    "pas sur", "pas sure", "pas certain", "pas certaine", "je doute", "peut etre", "en sais rien", "sais rien",
    "dont know", "no idea", "not sure", "maybe", "perhaps", "no clue", "ne me souviens", "me souviens pas",
    "me souviens plus", "me rappelle pas", "me rappelle plus", "souviens pas", "rappelle plus", "oublie",
    "oubliee", "connais pas", "ne connais", "je l ai pas", "je ne l ai", "l ai perdu", "l ai perdue",
    "pas trop", "bof", "hesite", "l ai plus", "l ai pu", "j hesite", "forgot", "forgotten", "don t remember",
    "dont remember", "ne sais pas", "sais po",
)  # fmt: skip
_HEDGES = _phrases(
    "je crois", "je pense", "probablement", "normalement", "surement", "il me semble", "je suppose", "i think",
    "i guess", "probably", "possible", "possiblement", "crois", "pense",
)  # fmt: skip

_HELP = _phrases(
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
_DEFINITION = _phrases("quoi", "veut dire", "signifie", "c est quoi", "what", "mean", "means", "definition")
# Words that make « représentant légal » an answer at the legal-guardian step (« je suis son représentant légal »).
_STATEMENT = _phrases("suis", "am", "oui", "non", "yes", "no", "c est moi", "je")
_SCHOOL = _phrases("ecole", "etablissement", "college", "lycee", "school", "directeur", "directrice", "secretariat")

_AGENT = _phrases(
    "conseiller", "conseillere", "conseillers", "humain", "humaine", "agent", "human", "operateur", "operatrice",
    "vraie personne", "une personne", "quelqu un", "parler a", "parler avec", "parler", "appeler", "telephoner",
    "rappeler", "contacter", "assistance", "support", "service client", "helpdesk", "hotline", "standardiste",
    "real person", "talk to", "speak to", "person", "representative", "someone",
)  # fmt: skip

_CANCEL = _phrases(
    "annuler", "annule", "annulez", "annulons", "annulation", "cancel", "stop", "stopper", "arreter", "arrete",
    "arretez", "arretons", "abandonner", "abandonne", "abandon", "laisse tomber", "laissez tomber", "tant pis",
    "quitter", "quitte", "quit", "exit", "retour", "back", "go back", "revenir", "en arriere",
)  # fmt: skip
_LOGOUT = _phrases(
    "deconnexion", "deconnecter", "deconnecte", "deconnectez", "logout", "log out", "sign out", "signout",
    "log off",
)  # fmt: skip
_RESTART = _phrases(
    "recommencer", "recommence", "recommencons", "reprendre a zero", "depuis le debut", "du debut", "a zero",
    "restart", "start over", "start again", "reset", "reinitialiser", "menu", "menu principal", "page d accueil",
    "start", "retour au menu", "revenir au menu", "retour a l accueil",
)  # fmt: skip

_ENGLISH = _phrases("english", "anglais", "anglai", "inglese", "ingles")
_FRENCH = _phrases("french", "francais")
_SPEAK = _phrases("speak", "parle", "parlez", "parler", "understand", "comprends", "comprend", "read")

_PASSWORD_TOPIC = _phrases("mot de passe", "provisoire", "temporaire", "temporary", "code", "codes")
_TEMPORARY = _phrases("provisoire", "temporaire", "temporary")
_IDENTIFIER_TOPIC = _phrases("identifiant", "utilisateur", "user")
_GUARDIAN_TOPIC = _phrases(
    "representant legal", "representante legale", "representant", "representante", "legal guardian", "guardian",
    "autorite parentale", "responsable legal", "tuteur legal", "tutrice legale", "legal", "legale",
)  # fmt: skip
_LETTER_TOPIC = _phrases(
    "courrier", "lettre", "mail", "email", "e mail", "enveloppe", "papier", "document", "notification", "sms",
)  # fmt: skip
_RECEIVED = _phrases(
    "recu", "receive", "received", "got", "get", "eu", "arrive", "arrivee", "donne", "envoye", "envoyer",
    "transmis", "send", "sent", "obtenu",
)  # fmt: skip
_NOT_RECEIVED = _phrases(
    "jamais recu", "toujours pas", "rien recu", "n ai rien", "pas recu", "attends toujours", "perdu le courrier",
    "perdu la lettre", "perdu le papier", "egare", "never got", "never received", "didn t get", "didn t receive",
    "no letter", "pas de courrier", "pas de lettre", "aucun courrier", "aucune lettre", "pas eu",
)  # fmt: skip
_LOST = _phrases(
    "perdu", "perdue", "egare", "egaree", "retrouve plus", "retrouve pas", "trouve plus", "jete", "jetee", "lost",
)  # fmt: skip
_INQUIRY = frozenset(
    {
        "ou", "trouver", "trouve", "quoi", "quel", "quelle", "quels", "quelles", "comment", "pourquoi", "veut",
        "signifie", "explique", "expliquer", "aide", "help", "where", "what", "which", "find", "lost", "forgot",
        "forgotten", "perdu", "perdue", "oublie", "oubliee", "egare", "sais", "connais", "rappelle", "souviens",
        "ressemble", "format", "exemple", "example", "look", "like", "mean", "means", "dire", "definition",
        "savoir", "est ce", "have", "ai", "trouvable", "cherche",
    }
)  # fmt: skip

_PARENT = _phrases(
    "sa mere", "son pere", "la mere", "le pere", "sa maman", "son papa", "maman", "papa", "mere", "pere",
    "le parent", "son parent", "parent", "parents", "tuteur", "tutrice", "mother", "father", "mum", "mom", "dad",
    "c est mon fils", "c est ma fille", "c est mon enfant", "mon fils", "ma fille", "mon enfant", "his mother",
    "her mother", "his father", "her father",
)  # fmt: skip
_RELATIVE = _phrases(
    "grand mere", "grand pere", "beau pere", "belle mere", "grands parents", "tante", "oncle", "nounou", "frere",
    "soeur", "cousin", "cousine", "voisin", "voisine", "ami", "amie", "famille d accueil", "grandmother",
    "grandfather", "grandma", "grandpa", "aunt", "uncle", "stepfather", "stepmother", "step", "nanny",
    "assistante familiale", "educateur", "educatrice", "garde", "beau fils", "belle fille", "niece", "neveu",
    "petit fils", "petite fille", "parrain", "marraine",
)  # fmt: skip

_LINK = _phrases(
    "ajouter", "ajout", "ajoute", "ajoutez", "rajouter", "rajoute", "rattacher", "rattache", "rattachement",
    "regrouper", "regroupe", "regroupement", "fusionner", "fusion", "fusionne", "lier", "relier", "associer",
    "joindre", "rassembler", "reunir", "transferer", "add", "link", "merge", "attach", "combine", "autre compte",
    "deux comptes", "2 comptes", "second compte", "deuxieme compte", "nouvel enfant", "un enfant", "un autre",
    "mettre", "rattachee",
)  # fmt: skip
# A child missing from the account: a wish to link it, even though the sentence is negative.
_MISSING = _phrases(
    "manque", "manquant", "manquante", "manquent", "apparait pas", "n apparait", "apparaissent pas", "pas dans",
    "absent", "absente", "introuvable", "missing", "ne vois pas", "vois pas", "ne trouve pas", "trouve pas",
    "pas rattache", "pas la", "not showing", "not there", "not on", "pas tous", "pas toutes", "ne sont pas",
    "n est pas", "pas encore", "pas sur mon compte",
)  # fmt: skip
# Children already on the account: a wish to see them.
_ALREADY = _phrases(
    "sont rattache", "est rattache", "deja rattache", "enfants rattache", "sur mon compte", "on my account",
    "dans mon compte",
)  # fmt: skip
_VIEW = _phrases(
    "voir", "vois", "afficher", "affiche", "liste", "lister", "consulter", "montrer", "montre", "see", "show",
    "list", "view", "qui est", "qui sont", "quels sont", "mes enfants", "my children", "my kids", "enfants",
    "children", "kids", "mes fils", "mes filles", "mes gamins", "mes eleves", "mes gosses", "mes petits",
)  # fmt: skip
_CHILD = _phrases(
    "mon fils", "ma fille", "mon gamin", "ma gamine", "mon gosse", "mon petit", "ma petite", "mon ado",
    "mon eleve", "my son", "my daughter", "my child", "my kid", "a child", "a son", "a daughter", "child", "fils",
    "fille", "eleve", "bebe", "daughter",
)  # fmt: skip

_THANKS = _phrases(
    "merci", "c est gentil", "tres gentil", "trop gentil", "au revoir", "bye", "bye bye", "bonne journee",
    "bonne soiree", "bonne nuit", "a plus", "a bientot", "ciao", "see you", "goodbye", "good bye", "cheers",
    "a la prochaine", "merci pour votre aide", "merci pour ton aide", "merci pour l aide", "merci de votre aide",
    "merci de l aide", "thanks for your help", "merci pour tout",
)  # fmt: skip
_GREETING = _phrases("bonjour", "ca va", "comment ca va", "comment allez vous", "how are you", "good morning")
# Words that may surround a greeting or a thanks without changing it.
_FILLER = frozenset(
    {
        "stp", "madame", "monsieur", "mme", "mr", "m", "a", "vous", "toi", "tous", "le", "la", "bot", "robot",
        "beaucoup", "encore", "bien", "tres", "infiniment", "mille", "fois", "pour", "tout", "votre", "ton",
        "et", "much", "so", "very", "you", "for", "everything", "again", "your", "lot", "de", "du",
        "oh", "ah", "euh", "bon", "alors", "voila", "re", "there", "everyone",
    }
)  # fmt: skip

_INTERROGATIVE_STARTS = _phrases(
    "comment", "pourquoi", "quoi", "quel", "quelle", "quels", "quelles", "combien", "quand", "qui", "que faire",
    "que dois", "que signifie", "qu est ce", "est ce que", "c est quoi", "ca veut dire", "ou est", "ou sont",
    "ou se", "ou trouver", "ou je", "ou puis", "ou on", "ou ca", "ou il", "ou elle", "how", "what", "whats",
    "where", "wheres", "why", "when", "who", "which", "can i", "can you", "could", "do you", "does", "is it",
    "is this", "are you", "est il", "est elle", "pouvez vous", "peux tu", "puis je", "dois je", "faut il",
    "avez vous", "as tu", "y a t il", "vous etes", "tu es", "a quoi",
)  # fmt: skip
_QUESTION_ANYWHERE = _phrases("est ce que", "c est quoi", "ca veut dire", "veut dire quoi", "ca sert a quoi")

# Words that make a run of words a sentence rather than a passphrase or an identifier.
_FUNCTION_WORDS = frozenset(
    {
        "je", "tu", "il", "elle", "on", "nous", "vous", "le", "la", "les", "un", "une", "des", "de", "du", "mon",
        "ma", "mes", "ton", "ta", "son", "sa", "ses", "ce", "ca", "cet", "cette", "est", "suis", "ai", "as", "ont",
        "sont", "et", "mais", "pour", "dans", "avec", "sur", "que", "qui", "ne", "pas", "me", "se", "en", "au",
        "aux", "moi", "lui", "leur", "i", "my", "the", "an", "is", "it", "to", "of", "and", "you", "your", "have",
        "has", "do", "not", "dont", "am", "are", "was", "this", "that", "what", "where",
    }
)  # fmt: skip

# Words never corrected into a keyword: real words one typo away from one.
_NEVER_CORRECTED = frozenset(
    {
        "annuel", "annuelle", "invalide", "incorrect", "conseil", "valise", "salut", "enfance",
        "content", "contenu", "compter", "parent", "parents", "garder", "regarde", "regarder", "merde", "aller",
        "alors", "juste", "quitte", "menus", "porte", "partie", "lettres", "lettre", "compte", "comptes", "enfin",
        "inscrits", "inscrit", "arrive", "arrivee", "donne", "sorte", "sortie", "retourne", "pere", "mere",
    }
)  # fmt: skip


# --- words ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """The canonical words of a text, and whether a typo was corrected to get them."""

    items: tuple[str, ...]
    corrected: bool


@dataclass(frozen=True)
class Hit:
    """Where a phrase was found in the words."""

    phrase: Phrase
    start: int
    end: int

    @property
    def text(self) -> str:
        """The phrase as words."""
        return " ".join(self.phrase)


def _vocabulary() -> tuple[frozenset[str], dict[str, list[str]]]:
    """Every keyword, and the keywords of 5 letters or more that typos are corrected into, by first letter."""
    groups = (
        _YES, _NO, _DONT_KNOW, _HEDGES, _HELP, _AGENT, _CANCEL, _LOGOUT, _RESTART, _ENGLISH, _FRENCH, _SPEAK,
        _PASSWORD_TOPIC, _IDENTIFIER_TOPIC, _GUARDIAN_TOPIC, _LETTER_TOPIC, _RECEIVED, _NOT_RECEIVED, _LOST, _PARENT,
        _RELATIVE, _LINK, _MISSING, _ALREADY, _VIEW, _CHILD, _THANKS, _GREETING, _NEGATIVE_IDIOMS, _DEFINITION,
        _SCHOOL,
    )  # fmt: skip
    words = {word for group in (*groups, _YES_ALONE) for phrase in group for word in phrase}
    words |= {word for canonical in _SPELLINGS.values() for word in canonical.split()}
    targets: dict[str, list[str]] = {}
    for word in sorted(words | set(_SPELLINGS)):
        if len(word) >= 5 and word.isalpha():
            targets.setdefault(word[0], []).append(word)
    return frozenset(words | set(_SPELLINGS)), targets


_KNOWN, _TYPO_TARGETS = _vocabulary()
_AGREEMENT_WORDS = frozenset(word for phrase in _YES for word in phrase if len(phrase) == 1)
_COMMAND_WORDS = frozenset(
    word for group in (_CANCEL, _LOGOUT, _RESTART) for phrase in group for word in phrase if len(phrase) == 1
)


def _squeeze(word: str) -> str:
    """Runs of three or more identical letters become one (« ouiiii » → « oui », « nonnn » → « non »)."""
    return re.sub(r"(.)\1{2,}", r"\1", word)


def _corrected(word: str) -> str | None:
    """The keyword a long word is a typo of, if any (conservative: same first letter, one or two edits)."""
    if len(word) < 5 or not word.isalpha() or word in _KNOWN or word in _NEVER_CORRECTED:
        return None
    allowed = 2 if len(word) >= 8 else 1
    candidates = [target for target in _TYPO_TARGETS.get(word[0], []) if abs(len(target) - len(word)) <= allowed]
    match = extractOne(word, candidates, scorer=OSA.distance, score_cutoff=allowed)
    if match is None:
        return None
    target, distance = match[0], match[1]
    if target in _AGREEMENT_WORDS and (distance > 1 or len(target) < 7):
        return None  # agreement: only one typo, only in words of 7 letters or more
    if target in _COMMAND_WORDS and (distance > 1 or len(target) < 6):
        return None  # commands: only one typo, only in words of 6 letters or more
    return str(target)


def folded_text(text: str) -> str:
    """The text cleaned for matching: NFC, no control characters, emoji as words, folded, straight apostrophes."""
    cleaned = without_control_characters(text)
    for emoji, word in _EMOJI.items():
        cleaned = cleaned.replace(emoji, word)
    folded = fold(cleaned).replace("œ", "oe").replace("æ", "ae")
    return re.sub(r"[’‘`´ʼ]", "'", folded)


def words_of(text: str) -> Words:
    """The canonical words of a text: SMS spellings expanded, typos of long keywords corrected."""
    corrected = False
    items: list[str] = []
    for raw in re.findall(r"[a-z0-9]+", folded_text(text)):
        word = _squeeze(raw)
        if word not in _SPELLINGS and word not in _KNOWN and (fixed := _corrected(word)) is not None:
            word, corrected = fixed, True
        items.extend(_SPELLINGS.get(word, word).split())
    return Words(_rewrite_phrases(items), corrected)


def _rewrite_phrases(items: list[str]) -> tuple[str, ...]:
    """Apply the multi-word spellings (« s il vous plait » → « stp », « don t » → « dont »)."""
    result: list[str] = []
    index = 0
    while index < len(items):
        for phrase, replacement in _SPELLING_PHRASES:
            if tuple(items[index : index + len(phrase)]) == phrase:
                result.extend(replacement)
                index += len(phrase)
                break
        else:
            result.append(items[index])
            index += 1
    return tuple(result)


def find_all(words: Sequence[str], phrases: Iterable[Phrase]) -> list[Hit]:
    """Every occurrence of the phrases in the words, longest first at each position."""
    hits = []
    for phrase in sorted(phrases, key=len, reverse=True):
        size = len(phrase)
        for start in range(len(words) - size + 1):
            if tuple(words[start : start + size]) == phrase:
                hits.append(Hit(phrase, start, start + size))
    return hits


def find(words: Sequence[str], phrases: Iterable[Phrase]) -> Hit | None:
    """The first (longest) occurrence of the phrases, or None."""
    hits = find_all(words, phrases)
    return hits[0] if hits else None


def _negated(words: Sequence[str], hit: Hit) -> bool:
    """Whether a sentence negation wraps the phrase (« ne pas annuler », « n'annule pas », « don't cancel »)."""
    before = words[max(0, hit.start - 3) : hit.start]
    after = words[hit.end : hit.end + 2]
    return any(word in SENTENCE_NEGATIONS for word in before) or any(
        word in {"pas", "jamais", "plus", "not", "rien"} for word in after
    )


def has_negation(words: Sequence[str]) -> bool:
    """Whether any word is a negation (« non », « pas », « ne », « jamais », « no », « not », « don't »…)."""
    return any(word in NEGATIONS for word in words)


# --- the shape of the text ----------------------------------------------------------------------

_CODE_PIECE = re.compile(r"\S*(?:\d|[._@+#$%&*=/\\|~^<>\[\]{}]\S)\S*")


def _pieces(cleaned: str) -> list[str]:
    """Whitespace-separated pieces, without the punctuation around them."""
    pieces = [piece.strip(".,;:!?()\"«»'’") for piece in cleaned.split()]
    return [piece for piece in pieces if piece]


_BLOCKS = re.compile(r"\w{3,}(?:-\w{3,}){2,}")
# Three words or more joined by hyphens (« Stop-Au-Bruit »): a password, not a command word (« aidez-moi »).
_COMPOUND = re.compile(r"(?=.{8,}$)\w+(?:-\w+){2,}")


def _is_code_like(piece: str) -> bool:
    """An identifier or a password: a digit, a symbol inside (« c.martin », « x@y »), or blocks (« ABCD-EFGH-IJKL »)."""
    return (
        any(char.isdigit() for char in piece)
        or _CODE_PIECE.fullmatch(piece) is not None
        or _BLOCKS.fullmatch(piece) is not None
    )


def ends_with_question_mark(cleaned: str) -> bool:
    """Whether the text ends with « ? » (possibly followed by other punctuation, spaces or emoji)."""
    tail = re.search(r"[^\w]*$", cleaned)
    return tail is not None and "?" in tail.group(0)


def _starts_like_question(words: Sequence[str]) -> Hit | None:
    """An interrogative opening (« comment… », « où est… », « what… ») or « est-ce que » anywhere."""
    if find(words[:2], _NEGATIVE_IDIOMS) is not None:
        return None  # « pourquoi pas » answers
    for hit in find_all(words, _INTERROGATIVE_STARTS):
        if hit.start == 0:
            return hit
    return find(words, _QUESTION_ANYWHERE)


def _is_sentence(words: Sequence[str]) -> bool:
    """Several words, one of them a function word: a sentence rather than a passphrase."""
    return len(words) >= 2 and any(word in _FUNCTION_WORDS for word in words)


def _known_share(words: Sequence[str]) -> float:
    """The share of words that are keywords, function words or politeness (1.0 for no words)."""
    if not words:
        return 1.0
    known = sum(1 for word in words if word in _KNOWN or word in _FUNCTION_WORDS or word in _FILLER)
    return known / len(words)


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What every rule looks at."""

    words: tuple[str, ...]
    expecting: Expectation
    question: bool
    corrected: bool

    @property
    def secret(self) -> bool:
        """Whether the text may be a password (explanations then name no word)."""
        return self.expecting in SECRET_STEPS

    @property
    def credential(self) -> bool:
        """Whether the step reads an identifier or a password."""
        return self.expecting in CREDENTIAL_STEPS

    @property
    def mostly_known(self) -> bool:
        """Whether at least half of the words are known: else answers and menu words are not read."""
        return _known_share(self.words) >= 0.5

    def reading(self, meaning: Meaning, rule: str, hit: Hit | None = None, confidence: float = 1.0) -> Reading:
        """A reading explained by its rule (and, when not at a secret step, the phrase that decided)."""
        explanation = rule if hit is None or self.secret else f"{rule}: «{hit.text}»"
        if self.corrected and hit is not None:
            explanation += " (typo corrected)"
            confidence = min(confidence, TYPO_CONFIDENCE)
        return Reading(meaning, explanation, confidence)


def understand(text: str, expecting: Expectation) -> Reading:
    """What the text typed means at a step expecting `expecting` (deterministic, with the deciding rule)."""
    return _safe(_understand(text, expecting), text, expecting)


def _understand(text: str, expecting: Expectation) -> Reading:
    """The reading before the final safety check."""
    cleaned = without_control_characters(text).strip()
    if not cleaned:
        return Reading(Meaning.UNKNOWN, "empty text")
    if cleaned.startswith("/"):
        return _read_command(cleaned, expecting)
    question = ends_with_question_mark(cleaned)
    pieces = _pieces(cleaned)
    if expecting in CREDENTIAL_STEPS and not question and pieces and all(_is_code_like(piece) for piece in pieces):
        return Reading(Meaning.DATA, "code-like input", 0.9)
    if expecting in SECRET_STEPS and not question and len(pieces) == 1 and _COMPOUND.fullmatch(pieces[0]):
        return Reading(Meaning.DATA, "one compound word at a password step", 0.9)
    words = words_of(cleaned)
    opening = _starts_like_question(words.items)
    context = _Context(words.items, expecting, question or opening is not None, words.corrected)
    reading = _read_meaning(context)
    if reading is not None:
        return reading
    if context.question:
        return context.reading(Meaning.HELP, "question on no known topic", opening)
    return _read_leftover(context, pieces)


def _read_command(cleaned: str, expecting: Expectation) -> Reading:
    """A "/command": its meaning; never data."""
    name, _, argument = cleaned.partition(" ")
    command = find_command(name)
    secret = expecting in SECRET_STEPS
    if command is None:
        reading = _understand(cleaned.lstrip("/"), expecting)
        if reading.meaning is Meaning.DATA:
            return Reading(Meaning.UNKNOWN, "unknown slash command")
        return Reading(reading.meaning, f"unknown slash command, then {reading.explanation}", reading.confidence)
    meanings = {
        "start": Meaning.RESTART,
        "aide": Meaning.HELP,
        "annuler": Meaning.CANCEL,
        "enfants": Meaning.MY_CHILDREN,
        "conseiller": Meaning.AGENT,
        "deconnexion": Meaning.LOGOUT,
    }
    if command.name == "langue":
        if fold(argument.strip()) in {"en", "english", "anglais"}:
            return Reading(Meaning.ENGLISH, "slash command" if secret else "slash command: /langue en")
        return Reading(Meaning.UNKNOWN, "slash command /langue without English")
    return Reading(meanings[command.name], "slash command" if secret else f"slash command: /{command.name}")


def _read_meaning(context: _Context) -> Reading | None:
    """The first rule, by priority, that recognises the words."""
    for rule in (
        _read_language,
        _read_agent,
        _read_destructive,
        _read_topic,
        _read_help,
        _read_dont_know,
        _read_guardian_words,
        _read_answer,
        _read_menu,
        _read_politeness,
    ):
        reading = rule(context)
        if reading is not None:
            return reading
    return None


def _read_language(context: _Context) -> Reading | None:
    """« english please », « Do you speak English? », « parlez-vous anglais », « I don't speak French »."""
    words = context.words
    english = find(words, _ENGLISH)
    if english is not None and not _negated(words, english):
        return context.reading(Meaning.ENGLISH, "English asked for", english)
    french = find(words, _FRENCH)
    if french is not None and _negated(words, french) and find(words, _SPEAK) is not None:
        return context.reading(Meaning.ENGLISH, "French not spoken", french)
    return None


def _read_agent(context: _Context) -> Reading | None:
    """« parler à un conseiller », « un humain svp », « I want to talk to someone »."""
    hit = find(context.words, _AGENT)
    if hit is None:
        return None
    if _negated(context.words, hit) or "besoin" in context.words[max(0, hit.start - 3) : hit.start]:
        return None
    return context.reading(Meaning.AGENT, "agent asked for", hit)


def _outermost(hits: Sequence[tuple[Meaning, Hit]]) -> list[tuple[Meaning, Hit]]:
    """The hits not inside a longer hit (« retour » inside « retour au menu » does not count)."""
    return [
        (meaning, hit)
        for meaning, hit in hits
        if not any(
            other is not hit
            and other.start <= hit.start
            and hit.end <= other.end
            and len(other.phrase) > len(hit.phrase)
            for _, other in hits
        )
    ]


def _read_destructive(context: _Context) -> Reading | None:
    """Cancel, log out, start over: only when clear, otherwise unknown (a reply is never destructive by doubt)."""
    words = context.words
    found = _outermost(
        [
            (meaning, hit)
            for meaning, phrases in ((Meaning.CANCEL, _CANCEL), (Meaning.LOGOUT, _LOGOUT), (Meaning.RESTART, _RESTART))
            for hit in find_all(words, phrases)
        ]
    )
    if not found:
        return None
    meaning, hit = found[0]
    if context.question:
        return context.reading(Meaning.HELP, "command word in a question", hit)
    not_knowing = _not_knowing(words)
    if not_knowing is not None:
        return context.reading(Meaning.DONT_KNOW, "command word while not knowing", not_knowing)
    if any(word in SENTENCE_NEGATIONS for word in words):
        return context.reading(Meaning.UNKNOWN, "command word with a negation", hit)
    if len({meaning for meaning, _ in found}) > 1:
        return context.reading(Meaning.UNKNOWN, "conflicting command words", hit)
    if len(words) > MAX_COMMAND_WORDS:
        return context.reading(Meaning.UNKNOWN, "command word inside a long message", hit)
    doubt = find(words, (*_HEDGES, ("si",), ("ou",), ("or",), ("if",), ("mais",), ("but",)))
    if doubt is not None or _agreement_hits(words):
        return context.reading(Meaning.UNKNOWN, "command word with doubt or agreement", hit)
    return context.reading(meaning, f"{meaning.value} words", hit)


def _read_topic(context: _Context) -> Reading | None:
    """Questions about the letter, the temporary password, the identifier, the legal guardian."""
    return _read_letter(context) or _read_guardian_topic(context) or _read_credential_topic(context)


def _read_letter(context: _Context) -> Reading | None:
    """« je n'ai pas reçu le courrier », « l'école ne m'a rien donné », « I never got the letter »."""
    words = context.words
    not_received = find(words, _NOT_RECEIVED)
    if not_received is not None:
        return context.reading(Meaning.NO_LETTER_RECEIVED, "letter not received", not_received)
    letter = find(words, _LETTER_TOPIC)
    if letter is not None and not context.question and (has_negation(words) or find(words, _LOST) is not None):
        return context.reading(Meaning.NO_LETTER_RECEIVED, "letter missing or lost", letter)
    received = find(words, _RECEIVED)
    if received is None or not has_negation(words):
        return None
    if find(words, (*_LETTER_TOPIC, *_PASSWORD_TOPIC, *_IDENTIFIER_TOPIC, *_SCHOOL)) is not None:
        return context.reading(Meaning.NO_LETTER_RECEIVED, "nothing received", received)
    return None


def _read_guardian_topic(context: _Context) -> Reading | None:
    """« c'est quoi un représentant légal ? »; at the legal-guardian step also « ça veut dire quoi ? »."""
    words = context.words
    guardian = find(words, _GUARDIAN_TOPIC)
    if context.expecting is not Expectation.GUARDIAN:
        return (
            None if guardian is None else context.reading(Meaning.ASK_LEGAL_GUARDIAN, "legal guardian named", guardian)
        )
    definition = find(words, _DEFINITION)
    if context.question and (guardian or definition):
        return context.reading(Meaning.ASK_LEGAL_GUARDIAN, "definition asked", guardian or definition)
    if guardian is None or _not_knowing(words) is not None:
        return None
    if definition is not None or not (has_negation(words) or find(words, _STATEMENT) is not None):
        return context.reading(Meaning.ASK_LEGAL_GUARDIAN, "legal guardian named, not answered", guardian)
    return None  # « je (ne) suis (pas) son représentant légal »: the guardian words answer


def _read_credential_topic(context: _Context) -> Reading | None:
    """The identifier and the temporary password: where they are, what they look like, forgotten."""
    words = context.words
    asking = context.question or any(word in _INQUIRY for word in words) or has_negation(words)
    if not (asking or len(words) <= 4):
        return None
    password = find(words, _PASSWORD_TOPIC)
    identifier = find(words, _IDENTIFIER_TOPIC)
    if context.expecting is Expectation.NEW_PASSWORD and password is not None and find(words, _TEMPORARY) is None:
        return context.reading(Meaning.HELP, "new password asked about", password)
    if identifier is not None and (password is None or context.expecting is Expectation.IDENTIFIER):
        return context.reading(Meaning.ASK_IDENTIFIER, "identifier asked about", identifier)
    if password is not None:
        return context.reading(Meaning.ASK_TEMPORARY_PASSWORD, "temporary password asked about", password)
    letter = find(words, _LETTER_TOPIC)
    if letter is not None and context.question:
        meaning = (
            Meaning.ASK_IDENTIFIER if context.expecting is Expectation.IDENTIFIER else Meaning.ASK_TEMPORARY_PASSWORD
        )
        return context.reading(meaning, "letter asked about", letter)
    return None


def _read_help(context: _Context) -> Reading | None:
    """« aide », « je comprends pas », « comment faire », « help »."""
    thanks = find_all(context.words, _THANKS)
    hit = next((hit for hit in find_all(context.words, _HELP) if not any(_overlap(hit, t) for t in thanks)), None)
    if hit is None:
        return None
    if hit.phrase in {("comment",), ("what",)} and len(context.words) > 1:
        return None  # an opening word: the other rules, then the question rule, decide
    return context.reading(Meaning.HELP, "help asked for", hit)


def _read_dont_know(context: _Context) -> Reading | None:
    """« je sais pas », « chais pas », « aucune idée », « peut-être », and hesitant answers."""
    words = context.words
    hit = _not_knowing(words)
    if hit is not None:
        return context.reading(Meaning.DONT_KNOW, "not knowing", hit)
    hedge = find(words, _HEDGES)
    if hedge is not None and (_agreement_hits(words) or _refusal_hits(words) or has_negation(words) or len(words) <= 3):
        return context.reading(Meaning.DONT_KNOW, "hesitant answer", hedge)
    return None


_DETERMINERS = frozenset(
    {"le", "la", "les", "l", "un", "une", "mon", "ma", "mes", "ton", "ta", "son", "sa", "ses", "ce", "cet", "cette"}
    | {"votre", "vos", "notre", "nos", "leur", "leurs"}
)


def _not_knowing(words: Sequence[str]) -> Hit | None:
    """« je ne sais pas », « pas sûr »… but not « pas sur mon compte » (« sur » the preposition)."""
    for hit in find_all(words, _DONT_KNOW):
        if hit.phrase[-1] in {"sur", "sure"} and words[hit.end : hit.end + 1] and words[hit.end] in _DETERMINERS:
            continue
        return hit
    return None


def _read_guardian_words(context: _Context) -> Reading | None:
    """At the legal-guardian step: « je suis sa mère » (yes), « sa grand-mère » (not sure), negated (no)."""
    if context.expecting is not Expectation.GUARDIAN or context.question:
        return None
    words = context.words
    if any(word in ANSWER_NEGATIONS for word in words):
        return None  # « non, c'est ma nièce »: the answer decides
    relative = find(words, _RELATIVE)
    if relative is not None:
        return context.reading(Meaning.DONT_KNOW, "a relative, maybe not the legal guardian", relative)
    hit = find(words, _PARENT) or find(words, _GUARDIAN_TOPIC)
    if hit is None:
        return None
    if has_negation(words):
        return context.reading(Meaning.NO, "negated parent or guardian words", hit)
    return context.reading(Meaning.YES, "parent or guardian words", hit)


def _agreement_hits(words: Sequence[str]) -> list[Hit]:
    """Agreement phrases not inside a refusal phrase (« bien sûr » in « bien sûr que non » does not count)."""
    refusals = find_all(words, _NO)
    hits = find_all(words, _YES)
    if tuple(words) in _YES_ALONE:
        hits.append(Hit(tuple(words), 0, len(words)))
    return [hit for hit in hits if not any(_overlap(hit, refusal) for refusal in refusals)]


def _refusal_hits(words: Sequence[str]) -> list[Hit]:
    """Refusal phrases, and agreement phrases wrapped in a negation (« je ne suis pas d'accord »)."""
    return find_all(words, _NO) + [hit for hit in find_all(words, _YES) if _negated(words, hit)]


def _overlap(first: Hit, second: Hit) -> bool:
    """Whether two hits share a word."""
    return first.start < second.end and second.start < first.end


def _read_answer(context: _Context) -> Reading | None:
    """Yes or no; agreement is never read from a text with a negation, a doubt or a question."""
    words = context.words
    idiom = find(words, _NEGATIVE_IDIOMS)
    if idiom is not None:
        return context.reading(Meaning.UNKNOWN, "idiom with a negation", idiom)
    refusals = _refusal_hits(words)
    if words[:1] == ("pas",) and context.expecting in {Expectation.YES_NO, Expectation.GUARDIAN}:
        refusals.append(Hit(("pas",), 0, 1))
    agreements = [hit for hit in _agreement_hits(words) if not _negated(words, hit)]
    if not (refusals or agreements):
        return None
    first = (refusals or agreements)[0]
    if context.question:
        return context.reading(Meaning.HELP, "yes or no asked as a question", first)
    if refusals and agreements:
        return context.reading(Meaning.UNKNOWN, "agreement and refusal together", first)
    if ("mais" in words or "but" in words) and not find_all(words, _NO):
        return context.reading(Meaning.UNKNOWN, "answer with a reservation", first)
    if not context.mostly_known:
        return None  # « correct horse battery staple »: one answer word among unknown words is no answer
    if refusals:
        return context.reading(Meaning.NO, "refusal", first)
    if has_negation(words):
        return context.reading(Meaning.UNKNOWN, "agreement with a negation", first)
    if "mais" in words or "but" in words:
        return context.reading(Meaning.UNKNOWN, "agreement with a reservation", first)
    if context.expecting in {Expectation.MENU, Expectation.FREE} and find(words, _THANKS):
        return context.reading(Meaning.THANKS, "polite agreement out of a question", first)
    return context.reading(Meaning.YES, "agreement", first)


def _read_menu(context: _Context) -> Reading | None:
    """« ajouter mon fils » (link), « voir la liste de mes fils » (my children)."""
    words = context.words
    if context.question and context.expecting not in {Expectation.MENU, Expectation.FREE}:
        return None  # a question about the children at another step: its help answers
    if context.credential and (len(words) > 4 or any(word.isdigit() for word in words) or not context.mostly_known):
        return None  # at a credential step only a short command-like text is a menu choice
    missing = find(words, _MISSING)
    if missing is not None and find(words, (*_CHILD, *_VIEW)) is not None:
        return context.reading(Meaning.LINK_CHILD, "a child missing", missing)
    already = find(words, _ALREADY)
    link = find(words, _LINK)
    if already is not None and (link is None or _overlap(already, link)):
        return context.reading(Meaning.MY_CHILDREN, "children on the account", already)
    if link is not None:
        if _negated(words, link):
            return context.reading(Meaning.UNKNOWN, "negated link words", link)
        return context.reading(Meaning.LINK_CHILD, "link words", link)
    view = find(words, _VIEW)
    if view is not None and not _negated(words, view):
        return context.reading(Meaning.MY_CHILDREN, "children list words", view)
    child = find(words, _CHILD)
    if child is not None and not has_negation(words):
        return context.reading(Meaning.LINK_CHILD, "one child named", child)
    return None


def _read_politeness(context: _Context) -> Reading | None:
    """Only thanks, farewells or greetings (with « madame », « svp », « beaucoup »…)."""
    words = context.words
    thanks = find_all(words, _THANKS)
    greeting = find_all(words, _GREETING)
    covered = {index for hit in (*thanks, *greeting) for index in range(hit.start, hit.end)}
    rest = [word for index, word in enumerate(words) if index not in covered]
    if not (thanks or greeting) or any(word not in _FILLER for word in rest):
        return None
    if thanks:
        return context.reading(Meaning.THANKS, "thanks or farewell", thanks[0])
    return context.reading(Meaning.GREETING, "greeting", greeting[0])


def _read_leftover(context: _Context, pieces: Sequence[str]) -> Reading:
    """Nothing recognised: data at a credential step when it does not read as a sentence, else unknown."""
    if not context.credential:
        return Reading(Meaning.UNKNOWN, "nothing recognised", 0.0)
    if not context.words:
        return Reading(Meaning.UNKNOWN, "no letter and no digit", 0.0)
    if len(pieces) <= 1:
        return Reading(Meaning.DATA, "one word at a credential step", 0.7)
    if context.expecting is Expectation.NEW_PASSWORD and any(_is_code_like(piece) for piece in pieces):
        return Reading(Meaning.DATA, "words with digits or signs at the new password step", 0.7)
    if _is_sentence(context.words):
        return Reading(Meaning.UNKNOWN, "a sentence, not a credential", 0.5)
    return Reading(Meaning.DATA, "words that make no sentence at a credential step", 0.6)


def _safe(reading: Reading, text: str, expecting: Expectation) -> Reading:
    """The safety rules, checked once more whatever rule decided."""
    meaning = reading.meaning
    if meaning is Meaning.DATA and expecting not in CREDENTIAL_STEPS:
        return Reading(Meaning.UNKNOWN, "data outside a credential step", 0.0)
    cleaned = without_control_characters(text).strip()
    if meaning in {Meaning.DATA, Meaning.YES, *DESTRUCTIVE} and ends_with_question_mark(cleaned):
        return Reading(Meaning.HELP, "question mark", 0.5)
    if meaning is Meaning.YES and has_negation(words_of(cleaned).items):
        return Reading(Meaning.UNKNOWN, "agreement with a negation", 0.0)
    return reading
