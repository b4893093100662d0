"""The portal's own labels (it exists only in French): in English they stay in French, the English in brackets."""

from __future__ import annotations

# French label on the portal → the English words the dialog uses for it.
PORTAL_LABELS: dict[str, str] = {
    "Identifiant": "Identifier",
    "Mot de passe": "Password",
    "Recherchez le compte": "Find the account",
    "Mes enfants": "My children",
    "Ajouter des élèves depuis un autre compte": "Add students from another account",
    "Ajouter ces élèves à mon compte": "Add these students to my account",
    "Annuler": "Cancel",
}

# Buttons that are the portal's own buttons: the English catalog shows « French (English) ».
BUTTON_LABELS: dict[str, str] = {
    "My children": "Mes enfants (My children)",
    "Add students from another account": (
        "Ajouter des élèves depuis un autre compte (Add students from another account)"
    ),
    "Add these students to my account": "Ajouter ces élèves à mon compte (Add these students to my account)",
    "Cancel": "Annuler (Cancel)",
    "{child} · {mark} I am not this student's legal guardian": (
        "{child} · {mark} Je ne suis pas le représentant légal de cet élève (I am not this student's legal guardian)"
    ),
}
