"""Requests in other languages, written out as the English the rule parser reads.

The rule parser reads English. A small multilingual model reads other languages, but slowly on a CPU (seconds a
turn) and not always well: the 1.5B model read "polar" and "giallo" as Drama and left "finales de los 90" a whole
decade. Most of what such requests say is a closed vocabulary: genre names, decades, "early/late", "between X and
Y", "nothing before", "without", small numbers, "why", "what do I like", greetings. This phrasebook writes those
out in English, in the seven languages our human request set holds besides English (es, fr, de, it, pt, nl, sv),
and drops the language's remaining function words. Whatever it does not know ("magari italiano", "que no sea de
Hollywood") stays, so the parser leaves it unaccounted and the model still reads the message in its own words.

The language is told by function words (the ``stop-words`` lists) and by the phrasebook's own hits; a message with
more English function words than any other language's is left as it is, so English is never rewritten.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from stop_words import get_stop_words

LANGUAGES: dict[str, str] = {
    "es": "spanish", "fr": "french", "de": "german", "it": "italian", "pt": "portuguese", "nl": "dutch", "sv": "swedish",
}

# small numbers as words, for counts ("tres comedias", "drei Stück"); 0 and 1 are articles too often to be counts
NUMBER_WORDS: dict[str, dict[str, int]] = {
    "en": dict(zip("two three four five six seven eight nine ten".split(), range(2, 11), strict=True)),
    "es": dict(zip("dos tres cuatro cinco seis siete ocho nueve diez".split(), range(2, 11), strict=True)),
    "fr": dict(zip("deux trois quatre cinq six sept huit neuf dix".split(), range(2, 11), strict=True)),
    "de": dict(zip("zwei drei vier fünf sechs sieben acht neun zehn".split(), range(2, 11), strict=True)),
    "it": dict(zip("due tre quattro cinque sei sette otto nove dieci".split(), range(2, 11), strict=True)),
    "pt": {**dict(zip("dois três quatro cinco seis sete oito nove dez".split(), range(2, 11), strict=True)), "duas": 2, "tres": 3},
    "nl": dict(zip("twee drie vier vijf zes zeven acht negen tien".split(), range(2, 11), strict=True)),
    "sv": dict(zip("två tre fyra fem sex sju åtta nio tio".split(), range(2, 11), strict=True)),
}

# a decade as written: "90", "'90", "1990", "90s", "90er", "80ern", "80-talet"
_DECADE = r"(?:19|')?(?P<d>[1-9]0)(?:s|'s|er|ern|-talet|-tal)?\b"


def _decade(m: re.Match) -> str:
    return f"{m['d']}s"


Rule = tuple[str, str | Callable[[re.Match], str]]


def _part(which: str) -> Callable[[re.Match], str]:
    return lambda m: f"{which} {_decade(m)}"


# per language: (pattern, English), tried in order; the first rules take the longest phrases
_RULES: dict[str, list[Rule]] = {
    "es": [
        (r"(?:a |de )?(?:principios|comienzos|inicios) de (?:la década de )?(?:los )?(?:años )?" + _DECADE, _part("early")),
        (r"(?:a |de )?mediados de (?:la década de )?(?:los )?(?:años )?" + _DECADE, _part("mid")),
        (r"(?:a |de )?(?:finales|fines) de (?:la década de )?(?:los )?(?:años )?" + _DECADE, _part("late")),
        (r"(?:de |en )?(?:la década de )?los (?:años )?" + _DECADE, lambda m: f"from the {_decade(m)}"),
        (r"(?:de |en )?(?:los )?años " + _DECADE, lambda m: f"from the {_decade(m)}"),
        (r"entre (?:el )?(\d{4}) y (?:el )?(\d{4})", r"between \1 and \2"),
        (r"nada (?:anterior a|antes de|de antes de|previo a)l? (\d{4})", r"nothing before \1"),
        (r"nada (?:posterior a|después de|de después de)l? (\d{4})", r"nothing after \1"),
        (r"(?:anterior(?:es)? a|antes de)l? (\d{4})", r"before \1"),
        (r"(?:posterior(?:es)? a|después de)l? (\d{4})", r"after \1"),
        (r"desde (?:el )?(\d{4})", r"since \1"),
        (r"(?:de )?(?:los )?últimos años|recientes?", "from the last few years"),
        (r"¿?qu[ée] (?:tipo|clase|g[ée]nero)s? de (?:pel[ií]culas?|pelis?|cine) me gusta(?:n)?", "what kind of movies do I like"),
        (r"¿?qu[ée] (?:crees|piensas) que me gusta", "what do you think I like"),
        (r"no me gusta(?:n|ron|ó)?", "I don't like"),
        (r"(?:cualquier cosa|lo que sea|todo) (?:menos|excepto|salvo)", "anything but"),
        (r"menos|excepto|salvo", "except"),
        (r"que no sea(?:n)?(?: de)?|nada de|ning[uú]n[oa]?", "no"),
        (r"sin", "without"),
        (r"por qu[ée]", "why"),
        (r"ciencia[ -]ficci[óo]n", "sci-fi"),
        (r"cine negro", "film noir"),
        (r"(?:de )?dibujos animados|animad[oa]s?|de animaci[óo]n|animaci[óo]n", "animation"),
        (r"(?:pel[ií]culas? )?(?:infantil(?:es)?|para niños)", "children's"),
        (r"comedias", "comedies"),
        (r"comedia", "comedy"),
        (r"(?:de )?terror|(?:que d[ée] |de )miedo", "horror"),
        (r"(?:de )?suspense|(?:de )?suspenso", "thriller"),
        (r"policiac[oa]s?|polic[ií]ac[oa]s?|polic[ií]al(?:es)?|de cr[ií]menes", "crime"),
        (r"documental(?:es)?", "documentary"),
        (r"dramas?", "drama"),
        (r"(?:de )?fantas[ií]a|fant[áa]stic[oa]s?", "fantasy"),
        (r"(?:de )?aventuras?", "adventure"),
        (r"(?:de )?acci[óo]n", "action"),
        (r"(?:de )?misterio", "mystery"),
        (r"b[ée]lic[oa]s?|de guerra", "war"),
        (r"del oeste", "western"),
        (r"musicales", "musicals"),
        (r"rom[áa]ntic[oa]s?|de amor", "romantic"),
        (r"divertid[oa]s?|graciosa?s?", "funny"),
        (r"lacrim[óo]gen[oa]s?", "tearjerker"),
        (r"recomi[ée]nda(?:me|nos)?|sugi[ée]re(?:me)?", "recommend"),
        (r"dame|mu[ée]strame", "give me"),
        (r"busco|quiero(?: ver)?", "I want"),
        (r"algo", "something"),
        (r"pel[ií]culas?|pelis?|filmes?", "movie"),
        (r"hola|buen[oa]s (?:d[ií]as|tardes|noches)", "hello"),
        (r"qu[ée] tal|c[óo]mo est[áa]s", "how are you"),
        (r"muchas gracias|gracias", "thanks"),
        (r"adi[óo]s|hasta luego", "bye"),
        (r"por favor", "please"),
        (r"(?:el |la )?primer[oa]?", "the first"),
        (r"(?:el |la )?segund[oa]", "the second"),
        (r"(?:el |la )?tercer[oa]?", "the third"),
    ],
    "fr": [
        (r"(?:au )?d[ée]but des (?:ann[ée]es )?" + _DECADE, _part("early")),
        (r"(?:au )?milieu des (?:ann[ée]es )?" + _DECADE, _part("mid")),
        (r"(?:[àa] la )?fin des (?:ann[ée]es )?" + _DECADE, _part("late")),
        (r"(?:des|les|dans les) ann[ée]es " + _DECADE, lambda m: f"from the {_decade(m)}"),
        (r"entre (\d{4}) et (\d{4})", r"between \1 and \2"),
        (r"rien (?:d'avant|avant|d'ant[ée]rieur [àa]) (\d{4})", r"nothing before \1"),
        (r"rien (?:d'apr[èe]s|apr[èe]s) (\d{4})", r"nothing after \1"),
        (r"(?:avant|ant[ée]rieurs? [àa]) (\d{4})", r"before \1"),
        (r"(?:apr[èe]s|post[ée]rieurs? [àa]) (\d{4})", r"after \1"),
        (r"depuis (\d{4})", r"since \1"),
        (r"(?:des )?derni[èe]res ann[ée]es|r[ée]cents?", "from the last few years"),
        (r"(?:tu penses que |d'apr[èe]s toi,? )?j'aime quel (?:genre|type) de films?", "what kind of movies do I like"),
        (r"quel (?:genre|type) de films? (?:j'aime|je pr[ée]f[èe]re|me pla[iî]t)", "what kind of movies do I like"),
        (r"qu'est-ce que j'aime", "what do I like"),
        (r"je n'aime pas", "I don't like"),
        (r"j'arr[êe]te(?: les| de voir les)?|plus de", "no more"),
        (r"[àa] partir de maintenant|d[ée]sormais", ""),
        (r"n'importe quoi sauf|tout sauf", "anything but"),
        (r"sauf|except[ée]", "except"),
        (r"pas de|pas d'|aucun(?:e)?|rien de", "no "),
        (r"sans", "without"),
        (r"pas trop", "not too"),
        (r"pourquoi", "why"),
        (r"science[- ]fiction|\bsf\b", "sci-fi"),
        (r"com[ée]dies? musicales?", "musical"),
        (r"com[ée]dies? romantiques?", "romantic comedy"),
        (r"dessins? anim[ée]s?|films? d'animation|animation", "animation"),
        (r"pour (?:les )?enfants", "children's"),
        (r"com[ée]dies", "comedies"),
        (r"com[ée]die", "comedy"),
        (r"(?:de l')?horreur|d'[ée]pouvante|qui fait peur|qui font peur", "horror"),
        (r"polars?|policiers?", "crime"),
        (r"documentaires?", "documentary"),
        (r"drames?", "drama"),
        (r"fantastiques?", "fantasy"),
        (r"(?:d')?aventures?", "adventure"),
        (r"(?:d')?action", "action"),
        (r"(?:à )?suspense", "thriller"),
        (r"myst[èe]res?", "mystery"),
        (r"(?:de )?guerre", "war"),
        (r"romantiques?|d'amour", "romantic"),
        (r"dr[ôo]les?|marrants?", "funny"),
        (r"tire-larmes", "tearjerker"),
        (r"conseille(?:-moi|s)?|recommande(?:-moi|s)?|propose(?:-moi|s)?", "recommend"),
        (r"je cherche|je veux(?: voir)?", "I want"),
        (r"quelque chose", "something"),
        (r"films?", "movie"),
        (r"bonjour|salut|bonsoir", "hello"),
        (r"[çc]a va|comment [çc]a va|comment vas-tu", "how are you"),
        (r"merci(?: beaucoup)?", "thanks"),
        (r"au revoir", "bye"),
        (r"s'il (?:te|vous) pla[iî]t", "please"),
        (r"ne pas|pas", "not"),
        (r"(?:le |la )?premi[èe]re?", "the first"),
        (r"(?:le |la )?deuxi[èe]me|(?:le |la )?second(?:e)?", "the second"),
        (r"(?:le |la )?troisi[èe]me", "the third"),
    ],
    "de": [
        (r"(?:aus den |in den )?fr[üu]hen " + _DECADE, _part("early")),
        (r"anfang der " + _DECADE, _part("early")),
        (r"mitte der " + _DECADE, _part("mid")),
        (r"(?:aus den |in den )?sp[äa]ten " + _DECADE, _part("late")),
        (r"ende der " + _DECADE, _part("late")),
        (r"(?:aus den|in den|der) " + _DECADE + r"(?: jahren?)?", lambda m: f"from the {_decade(m)}"),
        (r"zwischen (\d{4}) und (\d{4})", r"between \1 and \2"),
        (r"nichts (?:von )?vor (\d{4})", r"nothing before \1"),
        (r"nichts (?:von )?nach (\d{4})", r"nothing after \1"),
        (r"vor (\d{4})", r"before \1"),
        (r"nach (\d{4})", r"after \1"),
        (r"seit (\d{4})", r"since \1"),
        (r"(?:der )?letzten jahre|neuere?n?", "from the last few years"),
        (r"welche (?:art von )?filme mag ich|was f[üu]r filme mag ich", "what kind of movies do I like"),
        (r"was mag ich", "what do I like"),
        (r"ich mag kein(?:e|en)?", "I don't like"),
        (r"alles au(?:ß|ss)er", "anything but"),
        (r"au(?:ß|ss)er", "except"),
        (r"kein(?:e|en|er)?", "no"),
        (r"ohne", "without"),
        (r"nicht zu", "not too"),
        (r"warum|wieso|weshalb", "why"),
        (r"science[- ]fiction", "sci-fi"),
        (r"zeichentrick(?:filme?)?|animationsfilme?", "animation"),
        (r"kinderfilme?|f[üu]r kinder", "children's"),
        (r"kom[öo]dien", "comedies"),
        (r"kom[öo]die", "comedy"),
        (r"horrorfilme?|gruselfilme?|gruselig(?:e|en)?", "horror"),
        (r"krimis?|kriminalfilme?", "crime"),
        (r"dokumentarfilme?|dokus?|dokumentationen?", "documentary"),
        (r"dramen", "drama"),
        (r"abenteuer(?:filme?)?", "adventure"),
        (r"actionfilme?", "action"),
        (r"kriegsfilme?", "war"),
        (r"liebesfilme?|romantisch(?:e|en)?", "romantic"),
        (r"lustig(?:e|en)?|witzig(?:e|en)?", "funny"),
        (r"spannend(?:e|en)?|thrillers?", "thriller"),
        (r"tr[äa]nendr[üu]cker", "tearjerker"),
        (r"empfiehl(?: mir)?|empfehlen sie(?: mir)?", "recommend"),
        (r"ich (?:will|m[öo]chte|suche)(?: sehen)?", "I want"),
        (r"(?:et)?was", "something"),
        (r"(\d+) st[üu]ck", r"\1 movies"),
        (r"am liebsten|gerne?", "please"),
        (r"filme?", "movie"),
        (r"hallo|guten (?:tag|morgen|abend)", "hello"),
        (r"wie geht'?s(?: dir)?", "how are you"),
        (r"danke(?: sch[öo]n)?|vielen dank", "thanks"),
        (r"tsch[üu]ss|auf wiedersehen", "bye"),
        (r"bitte", "please"),
        (r"nicht", "not"),
        (r"(?:der |die |das |den )?erste[nrs]?", "the first"),
        (r"(?:der |die |das |den )?zweite[nrs]?", "the second"),
        (r"(?:der |die |das |den )?dritte[nrs]?", "the third"),
    ],
    "it": [
        (r"(?:dei |degli )?(?:primi|inizio) (?:degli )?anni " + _DECADE, _part("early")),
        (r"(?:della )?met[àa] (?:degli )?anni " + _DECADE, _part("mid")),
        (r"(?:della |alla )?fine (?:degli )?anni " + _DECADE, _part("late")),
        (r"(?:dei )?tardi anni " + _DECADE, _part("late")),
        (r"(?:degli|negli|anni) (?:anni )?" + _DECADE, lambda m: f"from the {_decade(m)}"),
        (r"(?:tra|fra) (?:il )?(\d{4}) e (?:il )?(\d{4})|dal (\d{4}) al (\d{4})", lambda m: f"between {m[1] or m[3]} and {m[2] or m[4]}"),
        (r"niente (?:di )?prima del (\d{4})", r"nothing before \1"),
        (r"niente (?:di )?dopo il (\d{4})", r"nothing after \1"),
        (r"prima del (\d{4})", r"before \1"),
        (r"dopo il (\d{4})", r"after \1"),
        (r"dal (\d{4})(?: in poi)?", r"since \1"),
        (r"(?:degli )?ultimi anni|recenti", "from the last few years"),
        (r"che (?:genere|tipo) di film mi piac(?:e|ciono)", "what kind of movies do I like"),
        (r"cosa mi piace", "what do I like"),
        (r"non mi piac(?:e|ciono)", "I don't like"),
        (r"tutto tranne|qualsiasi cosa tranne", "anything but"),
        (r"tranne|eccetto", "except"),
        (r"niente|nessun[oa]?", "no"),
        (r"senza", "without"),
        (r"non troppo", "not too"),
        (r"perch[ée]", "why"),
        (r"fantascienza", "sci-fi"),
        (r"cartoni animati|film d'animazione|animazione", "animation"),
        (r"per bambini", "children's"),
        (r"commedie", "comedies"),
        (r"commedia", "comedy"),
        (r"(?:dell')?orrore|horror|che fa paura", "horror"),
        (r"gialli|giallo", "mystery thriller"),
        (r"polizieschi|poliziesco", "crime"),
        (r"documentari[oi]?", "documentary"),
        (r"drammi|dramma", "drama"),
        (r"fantasy|fantastic[oi]", "fantasy"),
        (r"(?:d')?avventura", "adventure"),
        (r"(?:d')?azione", "action"),
        (r"(?:di )?guerra", "war"),
        (r"romantic[oi]|d'amore", "romantic"),
        (r"divertent[ei]", "funny"),
        (r"strappalacrime", "tearjerker"),
        (r"consigliami|raccomandami|suggeriscimi|consiglia(?:mi)?", "recommend"),
        (r"mi serve|voglio(?: vedere)?|cerco", "I want"),
        (r"qualcosa", "something"),
        (r"film", "movie"),
        (r"ciao|buongiorno|buonasera", "hello"),
        (r"come stai|come va", "how are you"),
        (r"grazie(?: mille)?", "thanks"),
        (r"arrivederci", "bye"),
        (r"per favore", "please"),
        (r"non", "not"),
        (r"(?:il |la )?prim[oa]", "the first"),
        (r"(?:il |la )?second[oa]", "the second"),
        (r"(?:il |la )?terz[oa]", "the third"),
    ],
    "pt": [
        (r"(?:do )?in[ií]cio dos (?:anos )?" + _DECADE, _part("early")),
        (r"(?:de )?meados dos (?:anos )?" + _DECADE, _part("mid")),
        (r"(?:do )?(?:final|fim) dos (?:anos )?" + _DECADE, _part("late")),
        (r"(?:dos |nos )?anos " + _DECADE, lambda m: f"from the {_decade(m)}"),
        (r"entre (\d{4}) e (\d{4})", r"between \1 and \2"),
        (r"nada (?:anterior a|antes de) (\d{4})", r"nothing before \1"),
        (r"nada (?:posterior a|depois de) (\d{4})", r"nothing after \1"),
        (r"(?:antes de|anterior(?:es)? a) (\d{4})", r"before \1"),
        (r"(?:depois de|posterior(?:es)? a) (\d{4})", r"after \1"),
        (r"desde (\d{4})", r"since \1"),
        (r"(?:dos )?[úu]ltimos anos|recentes?", "from the last few years"),
        (r"que tipo de filmes? (?:eu )?(?:curto|gosto)", "what kind of movies do I like"),
        (r"do que (?:eu )?gosto", "what do I like"),
        (r"n[ãa]o gosto de", "I don't like"),
        (r"tudo menos|qualquer coisa menos", "anything but"),
        (r"exceto|menos", "except"),
        (r"nada de|nenhum[a]?", "no"),
        (r"sem", "without"),
        (r"n[ãa]o muito", "not too"),
        (r"por que|porque", "why"),
        (r"fic[çc][ãa]o cient[ií]fica", "sci-fi"),
        (r"desenhos? animados?|anima[çc][ãa]o", "animation"),
        (r"infantil|infantis|para crian[çc]as", "children's"),
        (r"com[ée]dias", "comedies"),
        (r"com[ée]dia", "comedy"),
        (r"(?:de )?terror", "horror"),
        (r"policia(?:l|is)", "crime"),
        (r"document[áa]rios?", "documentary"),
        (r"dramas?", "drama"),
        (r"fantasia", "fantasy"),
        (r"(?:de )?aventuras?", "adventure"),
        (r"(?:de )?a[çc][ãa]o", "action"),
        (r"(?:de )?mist[ée]rio", "mystery"),
        (r"(?:de )?guerra", "war"),
        (r"faroestes?", "western"),
        (r"rom[âa]ntic[oa]s?", "romantic"),
        (r"engra[çc]ad[oa]s?", "funny"),
        (r"me indica|me recomenda|recomende(?:-me)?|sugira", "recommend"),
        (r"quero(?: ver)?|procuro", "I want"),
        (r"algo|alguma coisa", "something"),
        (r"filmes?", "movie"),
        (r"ol[áa]|oi|bom dia|boa (?:tarde|noite)", "hello"),
        (r"tudo bem|como vai", "how are you"),
        (r"obrigad[oa]", "thanks"),
        (r"tchau", "bye"),
        (r"por favor", "please"),
        (r"n[ãa]o", "not"),
        (r"(?:o |a )?primeir[oa]", "the first"),
        (r"(?:o |a )?segund[oa]", "the second"),
        (r"(?:o |a )?terceir[oa]", "the third"),
    ],
    "nl": [
        (r"(?:uit )?(?:het )?begin (?:van )?de jaren " + _DECADE, _part("early")),
        (r"(?:uit )?de vroege jaren " + _DECADE, _part("early")),
        (r"(?:uit )?(?:het )?midden (?:van )?de jaren " + _DECADE, _part("mid")),
        (r"(?:uit )?(?:het )?eind (?:van )?de jaren " + _DECADE, _part("late")),
        (r"(?:uit )?de late jaren " + _DECADE, _part("late")),
        (r"(?:uit )?de jaren " + _DECADE, lambda m: f"from the {_decade(m)}"),
        (r"tussen (\d{4}) en (\d{4})", r"between \1 and \2"),
        (r"niets (?:van )?(?:voor|v[óo][óo]r) (\d{4})", r"nothing before \1"),
        (r"niets (?:van )?na (\d{4})", r"nothing after \1"),
        (r"(?:van )?(?:voor|v[óo][óo]r) (\d{4})", r"before \1"),
        (r"na (\d{4})", r"after \1"),
        (r"sinds (\d{4})", r"since \1"),
        (r"(?:van de )?laatste jaren|recente", "from the last few years"),
        (r"wat voor (?:soort )?films vind ik leuk|van wat voor films hou ik", "what kind of movies do I like"),
        (r"ik hou niet van|ik houd niet van", "I don't like"),
        (r"alles behalve", "anything but"),
        (r"behalve", "except"),
        (r"geen", "no"),
        (r"zonder", "without"),
        (r"niet te", "not too"),
        (r"waarom", "why"),
        (r"sciencefiction|science fiction", "sci-fi"),
        (r"tekenfilms?|animatiefilms?|animatie", "animation"),
        (r"kinderfilms?|voor kinderen", "children's"),
        (r"komedies", "comedies"),
        (r"komedie", "comedy"),
        (r"griezelfilms?|horrorfilms?|eng(?:e)?", "horror"),
        (r"misdaadfilms?|misdaad", "crime"),
        (r"documentaires?", "documentary"),
        (r"drama's", "drama"),
        (r"avonturenfilms?|avontuur", "adventure"),
        (r"actiefilms?|actie", "action"),
        (r"oorlogsfilms?|oorlog", "war"),
        (r"romantische", "romantic"),
        (r"grappige?", "funny"),
        (r"spannende?", "thriller"),
        (r"een stuk of", "about"),
        (r"doe maar", "please"),
        (r"raad (?:me )?(?:\w+ )?aan|aanraden", "recommend"),
        (r"ik wil(?: zien)?|ik zoek", "I want"),
        (r"iets", "something"),
        (r"films?", "movie"),
        (r"hallo|hoi|goedemorgen|goedenavond", "hello"),
        (r"hoe gaat het", "how are you"),
        (r"dank(?:je| je| u)(?: wel)?|bedankt", "thanks"),
        (r"doei|tot ziens", "bye"),
        (r"graag", "please"),
        (r"niet", "not"),
        (r"(?:de |het )?eerste", "the first"),
        (r"(?:de |het )?tweede", "the second"),
        (r"(?:de |het )?derde", "the third"),
    ],
    "sv": [
        (r"(?:fr[åa]n )?(?:det )?tidiga " + _DECADE, _part("early")),
        (r"(?:fr[åa]n )?mitten av " + _DECADE, _part("mid")),
        (r"(?:fr[åa]n )?(?:det )?sena " + _DECADE, _part("late")),
        (r"(?:fr[åa]n )?(?P<d>[1-9]0)-talet", lambda m: f"from the {_decade(m)}"),
        (r"mellan (\d{4}) och (\d{4})", r"between \1 and \2"),
        (r"inget (?:fr[åa]n )?f[öo]re (\d{4})", r"nothing before \1"),
        (r"f[öo]re (\d{4})", r"before \1"),
        (r"efter (\d{4})", r"after \1"),
        (r"sedan (\d{4})", r"since \1"),
        (r"vad f[öo]r (?:slags |sorts )?filmer gillar jag", "what kind of movies do I like"),
        (r"jag gillar inte", "I don't like"),
        (r"allt utom", "anything but"),
        (r"utom", "except"),
        (r"ingen|inga|inget", "no"),
        (r"utan", "without"),
        (r"varf[öo]r", "why"),
        (r"science fiction", "sci-fi"),
        (r"tecknade?|animerade?", "animation"),
        (r"barnfilm(?:er)?", "children's"),
        (r"komedier", "comedies"),
        (r"komedi", "comedy"),
        (r"skr[äa]ckfilm(?:er)?|skr[äa]ck", "horror"),
        (r"deckare|kriminalfilm(?:er)?", "crime"),
        (r"dokument[äa]r(?:er)?", "documentary"),
        (r"[äa]ventyrsfilm(?:er)?|[äa]ventyr", "adventure"),
        (r"actionfilm(?:er)?", "action"),
        (r"krigsfilm(?:er)?", "war"),
        (r"romantisk(?:a)?", "romantic"),
        (r"rolig(?:a)?", "funny"),
        (r"sp[äa]nnande", "thriller"),
        (r"rekommendera", "recommend"),
        (r"jag vill(?: se)?", "I want"),
        (r"n[åa]got", "something"),
        (r"filmer|film", "movie"),
        (r"hej|god (?:morgon|kv[äa]ll)", "hello"),
        (r"hur m[åa]r du", "how are you"),
        (r"tack(?: s[åa] mycket)?", "thanks"),
        (r"hej d[åa]", "bye"),
        (r"sn[äa]lla", "please"),
        (r"inte", "not"),
        (r"(?:den )?första", "the first"),
        (r"(?:den )?tredje", "the third"),
    ],
}


@functools.cache
def _compiled(language: str) -> list[tuple[re.Pattern, str | Callable[[re.Match], str]]]:
    return [(re.compile(r"(?<![\w'-])(?:" + pattern + r")(?![\w-])", re.IGNORECASE), english) for pattern, english in _RULES[language]]


# English function words, short on purpose: the ``stop-words`` English list (1,333 words) also holds "de", "un",
# "la", "me" and "et", which would count French and Spanish messages as English
ENGLISH_FUNCTION_WORDS = frozenset(
    "a an the and or but if of to in on at by for with from about into over after before between through during "
    "without under i me my we our you your he she it its they them their this that these those what which who whom "
    "is are was were be been being am do does did have has had having will would shall should can could may might "
    "must not no nor so than too very just any some something anything more most other such only own same there here "
    "when where why how all both each few again further once up down out off above below please want like".split()
)
# words that mean the same in English and in the language, kept where it is read ("no musicals", "sin" → "without")
_KEPT = frozenset({"no"})
# phrasebook words that are English too: a hit on them says nothing about the language ("a Hitchcock film")
_SHARED = frozenset(
    "film films western westerns horror thriller thrillers drama dramas action fantasy musical musicals documentary "
    "animation romance mystery no sci-fi comedy".split()
)


@functools.cache
def _function_words(language: str) -> frozenset[str]:
    """The language's stop words, less the few that mean the same in English ("no")."""
    return frozenset(get_stop_words(LANGUAGES[language])) - _KEPT


_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)  # "80s" and "rom-com" are one token each
_MARK = 0xE000  # private-use characters: never a word, a digit or a space


@dataclass(frozen=True)
class Phrased:
    """A message and its English: ``language`` is None when the message was left as written (English, or unknown)."""

    text: str
    english: str
    language: str | None = None


def language_of(text: str) -> str | None:
    """The language of ``text`` among :data:`LANGUAGES`, or None for English or a message too short to tell.

    Each language scores its own function words plus the phrasebook phrases it matches; it must beat the
    count of English function words ("a western from the 50s" stays English; "un western des années 50" is French).
    """
    words = [w.lower() for w in _WORD.findall(text) if w.isalpha()]
    english = sum(w in ENGLISH_FUNCTION_WORDS for w in words)
    words = [w for w in words if len(w) > 1]  # a lone letter is a function word in too many languages
    best, best_score = None, 0
    for language in LANGUAGES:
        score = sum(w in _function_words(language) and w not in ENGLISH_FUNCTION_WORDS for w in words)
        score += sum(any(m[0].lower() not in _SHARED for m in pattern.finditer(text)) for pattern, _ in _compiled(language))
        if score > best_score:
            best, best_score = language, score
    return best if best_score > english else None


def in_english(text: str) -> Phrased:
    """``text`` with the phrasebook's phrases written in English and the language's other function words dropped.

    Small number words become digits first ("drei Stück" → "3 Stück" → "3"). Each English phrase is then held
    behind a private-use mark while the function words around it are dropped, so an English word that is also a
    function word elsewhere ("war" is German for "was") survives.
    """
    language = language_of(text)
    if language is None:
        return Phrased(text, text)
    numbers = NUMBER_WORDS[language]
    english = _WORD.sub(lambda m: str(numbers[m[0].lower()]) if m[0].lower() in numbers else m[0], text)
    held: list[str] = []

    def hold(replacement: str | Callable[[re.Match], str]) -> Callable[[re.Match], str]:
        def mark(m: re.Match) -> str:
            held.append(replacement(m) if callable(replacement) else m.expand(replacement))
            return f" {chr(_MARK + len(held) - 1)} "

        return mark

    for pattern, replacement in _compiled(language):
        english = pattern.sub(hold(replacement), english)
    function_words = _function_words(language)
    english = _WORD.sub(lambda m: "" if m[0].lower() in function_words else m[0], english)
    english = re.sub(f"[{chr(_MARK)}-{chr(_MARK + 255)}]", lambda m: held[ord(m[0]) - _MARK], english)
    english = re.sub(r"[¿¡]", "", english)
    english = re.sub(r",\s*([?!.])", r"\1", english)
    english = re.sub(r"\s+([,.!?;:])", r"\1", re.sub(r"\s{2,}", " ", english)).strip(" ,")
    return Phrased(text, english, language)
