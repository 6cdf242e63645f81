#!/usr/bin/env python3
"""Build SNOMED CT expansions for the clinical concepts of advanced-therapy-cds.

Only published value sets are used (never codes from memory):
  * US VSAC eCQM value sets as shipped in the PyPI wheel canvas==0.261.0
    (canvas_sdk/value_set/v2026/*.py = expansion "eCQM Update 2025-05-08",
     canvas_sdk/value_set/v2022/*.py = expansion "eCQM Update 2021-05-06");
  * NHS England Primary Care Domain reference sets and PRIMIS COVID-19 vaccination-uptake
    clusters (SNOMED CT UK Edition) as published on OpenCodelists and committed in two public
    OpenSAFELY study repositories; the CSV files are vendored verbatim under ./vendor/
    (repository + path + commit in SOURCES_GITHUB below);
  * FHIR IG packages from npm (hl7.fhir.us.mcode 4.0.0, hl7.fhir.uv.ips 2.0.0): their SNOMED CT
    value sets are intensional only (compose.include.filter, no expansion); they are used only to
    check concept ids named in ecl.toml.
  * (v2) the SNOMED International Global Patient Set (GPS) from npm hl7.terminology.r4 7.0.1
    (package/ValueSet-snomed-intl-gps.json; ids + FSNs, no hierarchy): source "gps" = its (disorder)/(finding)/(situation)
    members, used as an ECL term source and as a display-pattern harvest scope;
  * (v2) US Core 9.0.0 pregnancy-intent codes (HL7/US-Core narrative table, vendored) and three more OpenCodelists files
    (opensafely/amr-uom-brit, opensafely/mab-av-non-users; vendored).

Stdlib only, Python 3.11. Network use: `pip download canvas==0.261.0 --no-deps` and `npm pack` (mcode, ips, hl7.terminology.r4)
into the cache directory ($EXPANSIONS_CACHE, default ./.cache) when the files are not there yet.

Run:  python3 cds-services/terminology/build.py
        -> writes expansions/<key>.tsv, removed/<key>.tsv (every code a recipe removed, with why),
           sources.toml, ecl.toml, report/summary.json, report/spotcheck.tsv
Downloads are cached in ~/.cache/advanced-therapy-cds/terminology ($EXPANSIONS_CACHE).
"""
from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("EXPANSIONS_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "advanced-therapy-cds", "terminology"))
OUT = os.path.join(HERE, "expansions")
REMOVED = os.path.join(HERE, "removed")
REPORT = os.path.join(HERE, "report")
DATE = "2026-12-02"
SYSTEM = "http://snomed.info/sct"

CANVAS_WHEEL = "canvas-0.261.0-py3-none-any.whl"
NPM_PACKAGES = ["hl7.fhir.us.mcode@4.0.0", "hl7.fhir.uv.ips@2.0.0"]
# SNOMED CT Global Patient Set (GPS), as shipped in the HL7 Terminology (THO) npm package.
GPS_PACKAGE = "hl7.terminology.r4@7.0.1"
GPS_FILE = "package/ValueSet-snomed-intl-gps.json"
# Only clinical-finding-type GPS members are loaded as source "gps" (documented in sources.toml / REPORT.md):
GPS_TAGS = ("disorder", "finding", "situation")
# US Core pregnancy-intent codes (the IG narrative table listing the SNOMED CT members of VSAC Pregnancy Intention).
USCORE = ("HL7/US-Core", "85bf4af6eec4beed9f2bb0ac317964fc029e1970", "vendor/hl7-us-core",
          "ValueSet-us-core-pregnancy-intent-intro.md", "input/intro-notes/ValueSet-us-core-pregnancy-intent-intro.md")

# ============================================================================================
# RECIPES — one block per concept.
#   include : source ids whose every SNOMED CT member is taken
#   harvest : (scope, include_regex) — members of the scope whose published display matches
#             the regex (case-insensitive).  scope is a list of source ids, or "ALL_VSAC"
#             (every SNOMED CT member of every canvas VSAC class, v2026 and v2022).
#   exclude : [(reason, regex)] — removes members whose published display matches; every removed
#             code is written to out/removed/<key>.tsv with its reason.
#   subtract: source ids whose members are removed (reason "member of <id>").
#   union   : other concept keys whose final expansion is added (after their own exclusions).
#   ecl     : intensional definition (subset: <<, <, self, OR, MINUS); every id must occur in a
#             loaded published source; build checks that and writes ecl.toml.
# Source ids: vsac26_<Class>, vsac22_<Class> (canvas classes), ocl_* (OpenCodelists files).
# ============================================================================================

# Shared exclusion patterns (documented in REPORT.md).
X_HISTORY = ("history/situation, not a current disorder", r"^history of|\bh/o\b|\(situation\)$")
X_FAMILY = ("family history", r"family history|^fh:")
X_NEG = ("negation, risk, screening or suspicion", r"\bno history\b|\bnot\b|\bnever\b|^no |absent|ruled out|\bsuspected\b|at risk|\brisk of\b|screening|\bfear of\b|contact with|exposure to|\bcarrier\b")
X_PROC = ("procedure / regime, not a condition", r"\((procedure|regime/therapy|observable entity|qualifier value|morphologic abnormality)\)$")
X_VACC = ("vaccination / immunity", r"vaccin|immuni[sz]ation|\bimmune to\b")

NMSC = (r"basal cell carcinoma|basal cell epithelioma|basosquamous carcinoma|rodent ulcer|squamous (cell )?carcinoma of (the )?skin"
        r"|squamous (cell )?carcinoma of .*\bskin\b|cutaneous squamous cell carcinoma|keratoacanthoma"
        r"|^(primary )?(malignant (neoplasm|tumou?r)|carcinoma) of (the )?skin( of [^()]*| head and neck| head/neck)?( \(disorder\))?$"
        r"|^(primary )?malignant neoplasm of skin (caused by|due to)")

MALIG_WORDS = r"malignan|carcinoma|cancer|lymphoma|leuka?emia|myeloma|sarcoma|melanoma|blastoma|mesothelioma|germinoma|seminoma|carcinoid|myelodysplastic|refractory (anemia|anaemia|cytopenia|neutropenia|thrombocytopenia)|polycythemia vera|polycythaemia vera|macroglobulinemia|plasmacytoma|myeloproliferative|mycosis fungoides|sezary|sézary|histiocytosis|waldenstr|metasta|neoplasm"

INFECTION_SERIOUS = (
    r"seps|septic(?!.*(arthritis|shock lung))|septic shock|septic(a)?emia|bacter(a)?emia|fung(a)?emia|candid(a)?emia"
    r"|pneumonia|cellulitis|erysipelas|osteomyelitis|discitis|spondylodiscitis"
    r"|(septic|pyogenic|bacterial|infective|infectious|gonococcal|tuberculous) arthritis|arthritis (caused by|due to) (?!.*(virus|viral))"
    r"|endocarditis|meningitis|encephalitis|meningoencephalitis|ventriculitis|myelitis caused by|brain abscess"
    r"|abscess|empyema|necrotizing fasciitis|necrotising fasciitis|gas gangrene"
    r"|zoster|shingles"
    r"|pneumocyst|cryptococ|histoplasm|aspergill|cytomegalovir|\bcmv\b|candidiasis.*(systemic|disseminated|invasive)|(systemic|disseminated|invasive) candid"
    r"|mycobacteri|avium|kansasii|marinum|toxoplasm|progressive multifocal leukoencephalopathy|mucormycosis|zygomycosis|mucor|cryptosporid|nocardi"
)
X_NONINFECTIVE = (
    "non-infective form of a matched word",
    r"non-?infect|non-?bacterial|non-?pyogenic|aseptic|sterile|eosinophilic|lipoid|interstitial|organi[sz]ing|radiation|hypersensitivity|chemical|idiopathic|desquamative|foreign body|cholesterol|drug-induced|libman|marantic|rheumatic|loeffler|l[oö]ffler|lupus|autoimmune|paraneoplastic|limbic|anti-nmda|allergic|post-?herpetic|leprosy|lepromatous|tuberculoid|\btubercul|mycobacterium tuberculosis|pseudomembranous|pneumonitis$|transverse myelitis|demyelinat|lymphocytic choriomeningitis vaccine",
)

RECIPES: dict[str, dict] = {
    # ---------------------------------------------------------------- malignancy
    "malignancy-excl-nmsc": dict(
        include=["vsac26_Cancer", "vsac22_Cancer",
                 "vsac26_MalignantNeoplasmOfLymphaticAndHematopoieticTissue",
                 "vsac22_MalignantNeoplasmOfLymphaticAndHematopoieticTissue",
                 "vsac26_MalignantNeoplasmOfColon", "vsac22_MalignantNeoplasmOfColon",
                 "vsac26_ProstateCancer", "vsac22_ProstateCancer",
                 "vsac26_MalignantIntracranialNeoplasmGroup",
                 "vsac26_MalignantNeoplasmsOfLowerAndUnspecifiedLimbs",
                 "vsac26_MixedHistologyUrothelialCellCarcinomaForUrologyCare",
                 "vsac22_MixedHistologyUrothelialCellCarcinomaForUrologyCare"],
        harvest=[(["vsac26_ComorbidConditionsForRespiratoryConditions",
                   "vsac22_ComorbidConditionsForRespiratoryConditions",
                   "vsac26_AdvancedIllness", "vsac26_ImmunocompromisedConditions",
                   "vsac22_ImmunocompromisedConditions"], MALIG_WORDS)],
        exclude=[("non-melanoma skin cancer (basal cell / cutaneous squamous cell carcinoma, or unspecified non-melanoma malignant neoplasm of skin)", NMSC),
                 ("carcinoma / neoplasia in situ (not malignancy for these rules)", r"in situ|intraepithelial|\bbowen|\bpTis\b"),
                 X_HISTORY, X_FAMILY,
                 ("benign, uncertain or unspecified behaviour", r"benign|uncertain behavio|^neoplasm of|^intracranial tumou?r|^tumou?r of|borderline (?!malignant melanoma)|low malignant potential"),
                 ("cancer-predisposition / chromosomal syndrome or fetal tumour, not itself a malignancy", r"monosomy|trisomy|deletion syndrome|multiple endocrine neoplasia|^fetal |causing disproportion"),
                 ("not a malignancy (non-neoplastic member of a broad set)", r"^(congenital progressive bone marrow failure|primary familial polycythemia|familial polycythemia|emberger syndrome)|pain|screening|\(procedure\)$|\(morphologic abnormality\)$"),
                 ],
        ecl=("(<< 363346000 |Malignant neoplastic disease (disorder)| OR << 109995007 |Myelodysplastic syndrome (disorder)| OR << 109992005 |Polycythemia vera (disorder)|)"
             " MINUS (<< 254701007 |Basal cell carcinoma of skin (disorder)| OR << 254651007 |Squamous cell carcinoma of skin (disorder)|"
             " OR 372130007 |Malignant neoplasm of skin (disorder)|)"),
    ),
    "malignancy-history-codes": dict(
        harvest=[(["ALL_VSAC", "gps"], r"^(personal )?history of .*(" + MALIG_WORDS + r")")],
        exclude=[("history of non-melanoma skin cancer", NMSC),
                 ("history of non-melanoma skin cancer (basal cell / cutaneous squamous cell / unspecified primary malignant neoplasm of skin)",
                  r"basal cell|squamous cell carcinoma of skin|malignant neoplasm of skin \(situation\)$"),
                 ("history of in-situ / benign neoplasm", r"in situ|benign|intraepithelial"),
                 ("history of a neoplasm of unstated behaviour (not stated malignant)",
                  r"^(personal )?history of (?!.*(malignan|carcinoma|cancer|lymphoma|leuk|myeloma|sarcoma|melanoma|blastoma|mesothelioma|metasta))"),
                 X_FAMILY],
        ecl=("<< 266987004 |History of malignant neoplasm (situation)|"
             " MINUS (<< 428053000 |History of malignant basal cell neoplasm of skin (situation)| OR << 429024007 |History of squamous cell carcinoma of skin (situation)|"
             " OR 765378003 |History of primary malignant neoplasm of skin (situation)|)"),
    ),
    # ---------------------------------------------------------------- infections
    "serious-infections": dict(
        harvest=[(["ALL_VSAC", "gps", "ocl_user_rriefu_sepsis", "ocl_user_rriefu_pneumonia"], INFECTION_SERIOUS)],
        exclude=[X_NONINFECTIVE, X_HISTORY, X_FAMILY, X_NEG, X_PROC, X_VACC,
                 ("sequela / late effect, not an active infection", r"sequela|late effect|\bold |healed|\bresolved|post-?infective|following (resolution|recovery)"),
                 ("not an infection (word match only)", r"warthin|^abscess of (tooth|gum)|dental abscess|periapical|apical abscess|periodontal|gingival|\btooth\b"),
                 ("non-infective arthritis (crystal / psoriatic / reactive)", r"gout|crystal|pyrophosphate|psoria|reactive arthritis"),
                 ("chronic sequel or immune reaction, not an active infection", r"^(dementia|epilepsy|seizure|cognitive)|organized pneumonia|hyperimmune|fibrosis of lung"),
                 ("serology / organism identification / test result, not an infection", r"antibody|antigen|serolog|\btest\b|^[A-Z][a-z]+ [a-z]+ or [A-Z][a-z]+ [a-z]+ \(finding\)$"),
                 ("malignant (neoplastic) meningitis, not infective", r"malignant meningitis|carcinomatous meningitis|neoplastic meningitis"),
                 ("inactive / congenital-sequel form, not an active infection", r"\binactive\b|congenital hydrocephalus"),
                 ],
        ecl=("(<< 91302008 |Sepsis (disorder)| OR << 76571007 |Septic shock (disorder)| OR << 5758002 |Bacteremia (finding)|"
             " OR << 233604007 |Pneumonia (disorder)| OR << 128045006 |Cellulitis (disorder)| OR << 44653001 |Erysipelas (disorder)|"
             " OR << 52486002 |Necrotizing fasciitis (disorder)| OR << 60168000 |Osteomyelitis (disorder)| OR << 302935008 |Infective discitis (disorder)|"
             " OR << 396234004 |Infective arthritis (disorder)| OR << 233850007 |Infective endocarditis (disorder)| OR << 7180009 |Meningitis (disorder)|"
             " OR << 45170000 |Encephalitis (disorder)| OR << 128477000 |Abscess (disorder)| OR << 312682007 |Empyema (disorder)|"
             " OR << 4740000 |Herpes zoster (disorder)| OR << 415125002 |Pneumocystosis jirovecii pneumonia (disorder)| OR << 421403008 |Cryptococcosis with acquired immunodeficiency syndrome (disorder)|"
             " OR << 12962009 |Histoplasmosis (disorder)| OR << 65553006 |Aspergillosis (disorder)| OR << 28944009 |Cytomegalovirus infection (disorder)|"
             " OR << 421077004 |Disseminated candidiasis with acquired immunodeficiency syndrome (disorder)| OR << 371686006 |Infection caused by Mycobacterium avium-intracellulare group (disorder)|"
             " OR << 277869007 |Non-tuberculous mycobacterial pneumonia (disorder)| OR << 187192000 |Toxoplasmosis (disorder)|"
             " OR << 420554003 |Progressive multifocal leukoencephalopathy associated with acquired immunodeficiency syndrome (disorder)|)"
             " MINUS (<< 56717001 |Tuberculosis (disorder)| OR << 230156002 |Malignant meningitis (disorder)| OR << 299709002 |Dental abscess (disorder)|"
             " OR << 95383009 |Injection site sterile abscess (disorder)|)"),
    ),
    "infections": dict(
        union=["serious-infections", "tuberculosis-active", "herpes-zoster"],
        include=["vsac26_Hiv", "vsac22_Hiv", "vsac26_HepatitisA", "vsac22_HepatitisA", "vsac26_HepatitisB", "vsac22_HepatitisB",
                 "vsac26_Measles", "vsac22_Measles", "vsac26_Mumps", "vsac22_Mumps", "vsac26_Rubella", "vsac22_Rubella",
                 "vsac26_GenitalHerpes", "vsac26_AcutePharyngitis", "vsac22_AcutePharyngitis", "vsac26_AcuteTonsillitis",
                 "vsac22_AcuteTonsillitis", "vsac26_UpperRespiratoryInfection", "vsac22_UpperRespiratoryInfection",
                 "ocl_nhsd_hiv"],
        harvest=[(["ALL_VSAC", "gps"],
                  r"infect|seps|septic|bacter|\bviral\b|virus|fung|mycos|candid|parasit|abscess|cellulitis|erysipelas|pneumonia|tubercul"
                  r"|syphil|gonorr|gonococ|chlamyd|herpe|zoster|varicella|measles|mumps|rubella|hepatitis [a-e]\b|influenza|covid|coronavirus"
                  r"|malaria|osteomyelitis|endocarditis|meningitis|encephalitis|pyelonephritis|cystitis|otitis|sinusitis|pharyngitis|tonsillitis"
                  r"|bronchitis|bronchiolitis|impetigo|tinea|\bwarts?\b|lyme|borreli|salmonell|shigell|campylobact|clostrid|streptococ|staphylococ"
                  r"|pseudomonas|escherichia|klebsiella|legionell|listeri|mastoiditis|cholera|typhoid|leishmani|trypanosom|schistosom|helminth"
                  r"|nematod|trichomon|toxoplasm|cryptococ|histoplasm|aspergill|pneumocyst|cytomegalo|epstein-barr|mononucleosis|scabies|pediculosis"
                  r"|amebi|amoebi|giardia|rickett|brucell|leptospir|yaws|pinta|leprosy|anthrax|tetanus|diphtheria|pertussis|polio|rabies|dengue"
                  r"|zika|chikungunya|ebola|\bmonkeypox\b|\bmpox\b|smallpox|vaccinia|molluscum|condyloma|papilloma ?virus|\bhpv\b|onychomycosis"
                  r"|folliculitis|furuncle|carbuncle|paronychia|empyema|gangrene|peritonitis|cholangitis|appendicitis|diverticulitis|endometritis"
                  r"|salpingitis|pelvic inflammatory|prostatitis|epididymitis|orchitis|urethritis|cervicitis|vaginitis|vulvovaginitis|mastitis"
                  r"|conjunctivitis|keratitis|endophthalmitis|gastroenteritis|enteritis|colitis caused by|dysentery|diarrh(o)?ea caused by|worm|nocardi|actinomyc")],
        exclude=[X_NONINFECTIVE[0:1] + (r"non-?infect|non-?bacterial|aseptic|sterile|allergic|autoimmune|eosinophilic|post-?herpetic|chemical|radiation|idiopathic|lupus|drug-induced|toxic|pneumonitis$",),
                 X_HISTORY, X_FAMILY, X_NEG, X_PROC, X_VACC,
                 ("sequela / late effect, not an active infection", r"sequela|late effect|\bold\b|healed|\bresolved"),
                 ("HIV-exposed / serology / test result, not an infection", r"exposed|seropositive|antibody|antigen|serolog|\btest\b|positive for|detected"),
                 ("not an infection (word match only)", r"warthin|papilloma(?!.*virus)|virus-like|latent tuberculosis|tuberculosis infection without|inactive tuberculosis|infectious diseases department|^fear of|mantoux|tuberculin"),
                 ("organism identification finding, not a diagnosis", r"^[A-Z][a-z]+ [a-z]+ or [A-Z][a-z]+ [a-z]+ \(finding\)$"),
                 ("malignant (neoplastic) meningitis, not infective", r"malignant meningitis|carcinomatous meningitis|neoplastic meningitis"),
                 ("not an infection (substring match: cholecystitis, parotitis, physical/neurotrophic keratitis)", r"^(acute |chronic )?(calculous )?cholecystitis|^parotitis|welders|exposure keratoconjunctivitis|neurotrophic"),
                 # v3 (corpus review): the site-inflammation words of the harvest also hit allergic / immune / mechanical forms.
                 ("allergic / atopic / vernal / papillary / factitious / immune eye inflammation, or dry eye (not an infection)",
                  r"atopic|vernal|giant papillary|^papillary conjunctivitis|seasonal|perennial|hay fever|artefacta|factitious|sicca|phacoanaphylactic|phacoantigenic|sclerosing keratitis|sclerokeratitis|punctate keratitis|keratitis bullosa"),
                 ("unspecified conjunctivitis / keratitis / gastroenteritis / enteritis: the generic concept also covers common non-infective forms and no infective agent or qualifier is named",
                  r"^(acute |chronic |subacute )?(conjunctivitis|keratitis|keratoconjunctivitis|blepharoconjunctivitis|gastroenteritis|enteritis)( \(disorder\))?$|^dietetic gastroenteritis|^chronic proliferative enteritis"),
                 ("non-infective bladder / prostate / vaginal / follicular inflammation",
                  r"interstitial cystitis|cystitis cystica|cystitis glandularis|culture.negative|atrophic (vulvo)?vaginitis|chronic pelvic pain syndrome|asymptomatic prostatitis|pruritic folliculitis|pseudofolliculitis"),
                 ("autoimmune / fibrosing cholangitis or bronchiolitis, chronic obstructive / asthmatic bronchitis (not an infection)",
                  r"primary biliary cholangitis|^(?!.*(\bhiv\b|immunodeficiency virus)).*sclerosing cholangitis|bronchiolitis obliterans|obliterative bronchiolitis|respiratory bronchiolitis|asthmatic bronchitis|obstructive bronchitis|^(simple )?chronic bronchitis"),
                 ("ischaemic / diabetic / strangulation gangrene (only gas, synergistic or infective gangrene is an infection)",
                  r"^(?!.*(gas gangrene|meleney|fournier|synergistic|infect|bacter|clostrid)).*\bgangrene\b"),
                 ("cholecystitis / diverticulosis / diet: substring or negated match, not an infection",
                  r"^(?!.*(empyema|abscess|infect|bacter|typhoid|salmonell)).*cholecystitis|without diverticulitis|formula for|\bdiet\b"),
                 ("lymphoma / bullous or aphthous disease / immunity finding / non-infective cause (word match only)",
                  r"mycosis fungoides|fungoides|lymphomatoid|^(?!.*(\bhiv\b|immunodef|immune deficiency|pseudolymphoma|lymphoma virus|lymphotropic)).*lymphoma|herpetiform|booster|hyperimmune|non-immune|\bimmune \(finding\)$|caused by alcohol"),
                 ("post-infective sequel, not an active infection", r"post-?infect|post-?streptococcal|post-?polio")],
        ecl=("<< 40733004 |Infectious disease (disorder)| OR << 87628006 |Bacterial infectious disease (disorder)| OR << 233604007 |Pneumonia (disorder)|"
             " OR << 91302008 |Sepsis (disorder)| OR << 128045006 |Cellulitis (disorder)| OR << 128477000 |Abscess (disorder)| OR << 4740000 |Herpes zoster (disorder)|"
             " OR << 56717001 |Tuberculosis (disorder)| OR << 86406008 |Human immunodeficiency virus infection (disorder)|"),
    ),
    "tuberculosis-active": dict(
        include=["vsac26_TuberculosisForUrologyCare", "vsac22_ActiveTuberculosisForUrologyCare"],
        harvest=[(["ALL_VSAC", "gps"], r"tubercul|\btb\b|koch|scrofula|lupus vulgaris|mycobacterium tuberculosis|mycobacterium bovis|pott'?s disease")],
        exclude=[("latent / inactive / treated tuberculosis, or not tuberculosis", r"latent|inactive|without disease|\bold\b|healed|sequela|late effect|history|\(situation\)$|contact|exposure|screening|vaccin|\bbcg\b|tuberculin|tuberculoid|lepro|non-?tubercul|tuberous|tuberos|tubercle of|avium|\bpost-?tuberculous|resolved"),
                 X_FAMILY, X_PROC, ("organism identification finding, not a diagnosis", r"^[A-Z][a-z]+ [a-z]+ or [A-Z][a-z]+ [a-z]+ \(finding\)$")],
        ecl=("<< 56717001 |Tuberculosis (disorder)| MINUS (<< 11999007 |Inactive tuberculosis (disorder)| OR << 187251001 |Sequelae of tuberculosis (disorder)|"
             " OR << 187252008 |Late effects of respiratory tuberculosis (disorder)|)"),
    ),
    "tuberculosis-latent": dict(
        harvest=[(["ALL_VSAC", "gps"], r"latent tuberculosis|tuberculosis infection without|tuberculin (skin )?test positive|positive tuberculin|interferon gamma release assay positive|igra positive|mantoux: positive|mantoux positive|nonspecific tuberculin test reaction")],
        exclude=[X_FAMILY, X_NEG],
        ecl="<< 268376005 |Mantoux: positive (finding)| OR << 441846005 |Nonspecific tuberculin test reaction (finding)|",
    ),
    "tuberculosis-any": dict(
        union=["tuberculosis-active", "tuberculosis-latent"],
        harvest=[(["ALL_VSAC", "gps"], r"history of tuberculosis|\bold tuberculosis|sequela of tuberculosis|late effects? of (respiratory )?tuberculosis|healed tuberculosis|tuberculosis treated|sequelae of tuberculosis|^inactive tuberculosis")],
        exclude=[X_FAMILY, ("not tuberculosis", r"tuberculoid|lepro|non-?tubercul|contact|exposure|screening|vaccin")],
        ecl=("<< 56717001 |Tuberculosis (disorder)| OR << 11999007 |Inactive tuberculosis (disorder)| OR << 187251001 |Sequelae of tuberculosis (disorder)|"
             " OR << 161414005 |History of tuberculosis (situation)| OR << 268376005 |Mantoux: positive (finding)| OR << 441846005 |Nonspecific tuberculin test reaction (finding)|"),
    ),
    # ---------------------------------------------------------------- pregnancy
    "pregnancy": dict(
        include=["vsac26_Pregnancy", "vsac22_Pregnancy", "vsac26_PregnantState", "vsac22_PregnancyOrOtherRelatedDiagnoses",
                 "ocl_primis_preg"],
        harvest=[(["vsac26_ComplicationsOfPregnancyChildbirthAndThePuerperium", "vsac22_ComplicationsOfPregnancy_ChildbirthAndThePuerperium",
                   "vsac26_ObstetricalOrPregnancyRelatedConditions"],
                  r"in pregnancy|during pregnancy|complicating pregnancy|antepartum|antenatal|pregnancy with|of pregnancy|pregnant|weeks gestation|trimester|\bgestation\b"
                  # v3: pre-eclampsia / eclampsia / HELLP (pregnancy-specific disorders; their delivered / puerperal / postnatal
                  # variants are removed below and go to pregnancy-ended)
                  r"|eclampsia|\bhellp\b")],
        # v3: "- not delivered" and "..., antepartum" variants state an ongoing pregnancy; v2 removed them as "delivery".
        exclude=[("delivery, puerperium or end of pregnancy (see pregnancy-ended)",
                  r"^(?!.*(not delivered|, antepartum( \(disorder\))?$)).*(deliver|postpartum|post-partum|puerper|postnatal|post-natal|childbirth|after birth|miscarriage|abortion|termination|ectopic|tubal pregnancy|molar pregnancy|hydatidiform|products of conception|stillbirth|still birth|fetal death|foetal death|intrauterine death|retained placenta|born\b|caesarean|cesarean|\blabou?r\b.*(complicat|obstructed)|obstructed labou?r)"),
                 ("not pregnant / uncertain / wish", r"not pregnant|not yet pregnant|\bnegative\b|unknown|possible pregnan|suspected|planning|wants|intends|unplanned pregnancy risk|pregnancy test"),
                 X_HISTORY, X_FAMILY,
                 ("condition of the fetus or newborn, not of the pregnant woman", r"\bfetus\b|\bfoetus\b|newborn|neonat|infant of")],
        ecl="<< 77386006 |Pregnancy (finding)| MINUS (<< 118215003 |Delivery finding (finding)| OR << 118213005 |Postpartum finding (finding)|)",
    ),
    "pregnancy-ended": dict(
        harvest=[(["ocl_primis_pregdel", "vsac26_ComplicationsOfPregnancyChildbirthAndThePuerperium",
                   "vsac22_ComplicationsOfPregnancy_ChildbirthAndThePuerperium", "vsac26_ObstetricalOrPregnancyRelatedConditions",
                   "vsac26_DeliveryOfSingleton", "vsac22_PregnancyOrOtherRelatedDiagnoses", "vsac26_Pregnancy", "vsac22_Pregnancy"],
                  r"deliver|postpartum|post-partum|puerper|postnatal|post-natal|miscarriage|abortion|termination of pregnancy|ectopic|tubal pregnancy|molar pregnancy|hydatidiform|stillbirth|still birth|caesarean|cesarean|childbirth|after birth|products of conception|retained placenta|live birth|single live|twins.*born"
                  # v3: non-viable early pregnancy (blighted ovum / anembryonic pregnancy), like "missed abortion" already matched
                  r"|blighted ovum|anembryonic")],
        exclude=[("negation, spanning code (pregnancy, childbirth and puerperium), or pregnancy still in progress", r"\bno\b|\bnot delivered|supervision of|pregnancy, childbirth and( the)? puerperium|pregnancy and the puerperium|childbirth preparation|in remission"),
                 ("planned / expected delivery, or pregnancy still in progress", r"expected date|due date|planned|booking|intended|preferred place|\bedd\b|threatened|risk of|delivery advice|antenatal|antepartum|in pregnancy(?!.*(deliver|childbirth|puerper))"),
                 X_FAMILY, ("newborn's condition", r"\bfetus\b|\bfoetus\b|newborn|neonat|infant of")],
        ecl="<< 118215003 |Delivery finding (finding)| OR << 118213005 |Postpartum finding (finding)|",
    ),
    "pregnancy-wish": dict(
        include=["uscore_pregnancy_intent"],
        harvest=[(["ALL_VSAC", "gps"], r"wants to (become|get) pregnant|wish(es)? to (become|get) pregnant|desire.*pregnan|planning (a )?pregnan|trying to conceive|intends to (become|get) pregnant")],
        exclude=[("no desire / ambivalent / unsure about pregnancy (not a wish to become pregnant)", r"\bno desire|ambivalent|not sure|unsure")],
        ecl="<< 454411000124108 |Wants to become pregnant (finding)|",
    ),
    "breastfeeding": dict(
        include=["vsac26_Breastfeeding", "vsac22_Breastfeeding"],
        exclude=[("intention only / lactation problem without breastfeeding", r"intention|decreased lactation|lactation problem")],
        ecl="866041003 |Mother currently breastfeeding (situation)| OR << 1260078007 |Maternal breastfeeding (finding)|",
    ),
    # ---------------------------------------------------------------- cardiovascular
    "ascvd": dict(
        include=["vsac26_MyocardialInfarction", "vsac22_MyocardialInfarction", "vsac26_InitialMyocardialInfarction", "vsac26_Stemi",
                 "vsac26_CoronaryArteryDiseaseNoMi", "vsac22_CoronaryArteryDiseaseNoMi", "vsac26_StableAndUnstableAngina",
                 "vsac22_StableAndUnstableAngina", "vsac26_IschemicHeartDiseaseOrRelatedDiagnoses",
                 "vsac22_IschemicHeartDiseaseOrOtherRelatedDiagnoses", "vsac26_IschemicStroke",
                 "vsac26_CerebrovascularDiseaseStrokeOrTia", "vsac22_CerebrovascularDisease_Stroke_Tia",
                 "vsac26_AtherosclerosisAndPeripheralArterialDisease", "vsac22_AtherosclerosisAndPeripheralArterialDisease",
                 "ocl_nhsd_chd_cod", "ocl_nhsd_strk_cod", "ocl_nhsd_tia_cod"],
        harvest=[("ALL_VSAC", r"(coronary artery bypass graft|coronary bypass graft|\bcabg\b|coronary angioplasty|percutaneous coronary|coronary (artery )?stent).*\((finding|situation)\)$|^(history of|old) myocardial infarction|^history of (cerebrovascular accident|stroke|transient ischemic|transient ischaemic)")],
        exclude=[("haemorrhagic or non-ischaemic cerebrovascular disease", r"^(?!.*(myocardial infarction|ischemic stroke|ischaemic stroke|cerebral infarction|ischemic attack)).*(hemorrhag|haemorrhag|aneurysm|dissection|venous thrombosis|venous sinus|cerebral edema|arteriovenous malformation|moyamoya|vasculitis|angiitis|arteritis|cadasil|autosomal dominant arteriopathy)"),
                 X_FAMILY,
                 ("negation / risk / screening", r"\bno history\b|\bnever\b|^no |absent|ruled out|\bsuspected\b|at risk|risk of|screening|fear of"),
                 ("not atherosclerotic disease (word match)", r"renal artery|renovascular|coronary artery anomal|kawasaki|spasm|vasospas|syndrome x|takotsubo|myocardial bridge|aneurysm of coronary")],
        ecl=("<< 22298006 |Myocardial infarction (disorder)| OR << 194828000 |Angina (disorder)| OR << 53741008 |Coronary arteriosclerosis (disorder)|"
             " OR << 414545008 |Ischemic heart disease (disorder)| OR << 422504002 |Ischemic stroke (disorder)| OR << 432504007 |Cerebral infarction (disorder)|"
             " OR << 266257000 |Transient ischemic attack (disorder)| OR << 399957001 |Peripheral arterial occlusive disease (disorder)|"),
    ),
    "venous-thromboembolism": dict(
        include=["vsac26_VenousThromboembolism", "vsac26_ObstetricsVte"],
        harvest=[(["ALL_VSAC", "ocl_primis_chd_cov"], r"pulmonary embol|pulmonary thromboembol|deep vein thromb|deep venous thromb|venous thromboembolism|\bdvt\b|deep thrombophlebitis|phlebothrombosis")],
        exclude=[("superficial thrombophlebitis or non-thrombotic embolism", r"superficial|soap|air embol|amniotic|fat embol|septic embol|tumou?r embol|complicated by embolism \(disorder\)$|venous complication of"),
                 ("risk / prophylaxis / screening / negation", r"at risk|risk of|prophyla|screening|ruled out|suspected|\bno\b|absent"),
                 X_FAMILY,
                 ("thrombosis of a vein that is not a deep limb vein or pulmonary artery", r"portal vein|hepatic vein|renal vein|retinal vein|cerebral venous|venous sinus|mesenteric|splenic vein")],
        ecl="<< 128053003 |Deep venous thrombosis (disorder)| OR << 59282003 |Pulmonary embolism (disorder)|",
    ),
    "hypertension": dict(
        include=["vsac26_EssentialHypertension", "vsac22_EssentialHypertension", "vsac26_DiagnosisOfHypertension",
                 "vsac22_DiagnosisOfHypertension", "vsac22_HypertensiveChronicKidneyDisease"],
        # v3: the display-pattern harvest now runs over all VSAC sets, the GPS and the UK files (v2: one VSAC set only), so
        # generic / heart / renal forms published there (Hypertensive heart disease, ... due to hypertension) are reached.
        harvest=[(["vsac26_FindingOfElevatedBloodPressureOrHypertension"], r"hypertension|hypertensive"),
                 (["ALL_VSAC", "gps", "ocl_primis_chd_cov", "ocl_primis_ckd35", "ocl_primis_ckd_cov", "ocl_nhsd_strk_cod",
                   "ocl_primis_diab", "ocl_nhsd_dmtype1audit_cod", "ocl_nhsd_dmtype2audit_cod"], r"hypertensi")],
        exclude=[("not systemic arterial hypertension (pulmonary / portal / intracranial / ocular / right-ventricular)",
                  r"pulmonary (arterial |venous )?hypertens|pulmonary hypertensive|portal hypertens|intracranial|ocular|right ventricular hypertens|pulmonary venous"),
                 ("pregnancy-limited hypertension (gestational / pregnancy-induced / (non-)proteinuric hypertension of pregnancy / pre-eclampsia or eclampsia without stated pre-existing hypertension)",
                  r"gestational|pregnancy.induced|transient hypertension of pregnancy|proteinuric hypertension of pregnancy|and/or vomiting|^(?!.*pre-existing).*eclampsia"),
                 ("glaucoma / drug reaction, not hypertensive disease (word match)", r"hypertensive eye|antihypertensive"),
                 ("transient / labile / white-coat / borderline hypertension or a raised reading, not a diagnosis of hypertension",
                  r"transient hypertension|white coat|clinical environment|borderline|elevated blood pressure|raised blood pressure|blood pressure reading|labile"),
                 X_FAMILY, X_HISTORY,
                 ("negation / screening / resolved / fear", r"\bno\b|absent|screening|resolved|suspected|at risk|without hypertension|fear of")],
        ecl="<< 38341003 |Hypertensive disorder, systemic arterial (disorder)|",
    ),
    "diabetes": dict(
        include=["vsac26_Diabetes", "vsac22_Diabetes", "vsac22_Type1Diabetes", "vsac22_DiabeticNephropathy",
                 "vsac26_DiabeticRetinopathy", "vsac22_DiabeticRetinopathy", "vsac26_DiabeticMacularEdema", "vsac22_DiabeticMacularEdema",
                 "ocl_primis_diab", "ocl_nhsd_dmtype1audit_cod", "ocl_nhsd_dmtype2audit_cod"],
        subtract=["vsac26_PrediabetesBorderlineDiabetes"],
        exclude=[("gestational diabetes (pregnancy-limited; not a standing CV risk factor in the rules) — decision, see REPORT", r"gestational"),
                 ("prediabetes / impaired glucose regulation / not diabetes mellitus", r"prediabet|pre-diabet|borderline|impaired (fasting|glucose)|insipidus|non-?diabetic|hyperglycemia(?!.*diabet)"),
                 X_FAMILY, ("negation / screening / resolved / newborn", r"\bno\b|absent|screening|resolved|at risk|suspected|infant of|newborn|neonat|fetus|foetus")],
        ecl="<< 73211009 |Diabetes mellitus (disorder)| MINUS << 11687002 |Gestational diabetes mellitus (disorder)|",
    ),
    "dyslipidaemia": dict(
        include=["vsac26_FamilialHypercholesterolemia", "vsac22_FamilialHypercholesterolemia"],
        harvest=[(["ALL_VSAC", "gps"], r"hypercholest|hyperlipid|dyslipid|hypertriglycerid|hyperlipoprotein|lipoprotein lipase deficiency|sitosterol")],
        exclude=[X_FAMILY, X_HISTORY, ("diet, not a condition", r"\bdiet\b"), ("screening / negation / hypolipidaemia", r"screening|\bno\b|hypolipo|abetalipo|hypobetalipo")],
        ecl=("<< 370992007 |Dyslipidemia (disorder)| OR << 55822004 |Hyperlipidemia (disorder)| OR << 13644009 |Hypercholesterolemia (disorder)|"
             " OR << 302870006 |Hypertriglyceridemia (disorder)|"),
    ),
    "smoking-history": dict(
        harvest=[(["vsac26_SmokingStatus", "vsac26_TobaccoUser", "vsac26_TobaccoNonUser"],
                  r"smok|cigar|pipe|hookah|tobacco user|tobacco smoker"),
                 # v3: the same smoking words plus tobacco / nicotine dependence over all VSAC sets and the GPS (dependence on
                 # tobacco implies tobacco use; the smoking-status findings of the GPS such as "Stopped smoking" are reached).
                 (["ALL_VSAC", "gps"], r"smok|tobacco dependence|nicotine dependence")],
        exclude=[("never / non-smoker, passive smoking, unknown history", r"never|non-smoker|non smoker|nonsmoker|non-user|passive|aggressive non|intolerant non|tolerant non|history unknown"),
                 ("smokeless tobacco / e-cigarette only (not smoking)", r"smokeless|chew|snuff|moist|electronic cigarette|e-cigarette"),
                 ("not tobacco smoking (drugs, smoke injury, exposure to others' smoke) or no status stated (grouper, unknown)",
                  r"smokes drugs|drugs|smoke inhalation|inhalation injury|exposed to|exposure|at risk|^finding of tobacco smoking|consumption unknown|maternal tobacco use")],
        ecl="<< 77176002 |Smoker (finding)| OR << 8517006 |Ex-smoker (finding)| OR << 89765005 |Tobacco dependence syndrome (disorder)|",
    ),
    # ---------------------------------------------------------------- infection risk
    "infection-risk-conditions": dict(
        include=["vsac26_Hiv", "vsac22_Hiv", "ocl_nhsd_hiv", "vsac26_SevereCombinedImmunodeficiency", "vsac22_SevereCombinedImmunodeficiency"],
        harvest=[(["vsac26_DisordersOfTheImmuneSystem", "vsac22_DisordersOfTheImmuneSystem", "vsac26_ImmunocompromisedConditions",
                   "vsac22_ImmunocompromisedConditions", "ocl_primis_immdx_cov", "ocl_nhsd_immunosuppression", "gps"],
                  r"immunodeficien|immune deficiency|immunocompromis|immunosuppress|agammaglobulin|hypogammaglobulin|dysgammaglobulin|immunoglobulin [a-z0-9]* ?deficiency|complement .*(deficiency|dysfunction)|deficiency of complement|wiskott|ataxia.telangiectasia|digeorge|chediak|chronic granulomatous disease|hyper ?ig[em]|human immunodeficiency virus|\bhiv\b|\baids\b|asplenia|splenectomy|hyposplen|neutropeni|agranulocytosis|leukocyte adhesion|lymphocytopenia|lymphopenia|cd4"),
                 (["vsac26_HepatitisB", "vsac22_HepatitisB", "vsac26_LiverDisease", "vsac22_LiverDisease", "vsac22_ChronicLiverDisease",
                   "ocl_primis_cld"], r"chronic (viral )?hepatitis [bc]|hepatitis [bc].*chronic|chronic .*hepatitis [bc]|hepatitis b carrier|carrier of hepatitis b|chronic type [bc] viral hepatitis|cirrhosis .*hepatitis [bc]|hepatitis [bc]")],
        # v3: the v2 pattern r"\bacute\b|immune|vaccin|antibody|serolog" also removed AIDS ("immune deficiency"), acute HIV
        # infection, primary/secondary immune deficiency, SCID ("T-cell negative") and "[X]HIV disease ... not elsewhere
        # classified"; each exclusion is now restricted to the hepatitis / HIV-status wording it was meant for.
        exclude=[("acute (not chronic) viral hepatitis", r"\bacute\b.*hepatitis|hepatitis.*\bacute\b"),
                 ("hepatitis immunity / vaccination / antibody (not an infection)", r"hepatitis [a-e] immune|\bimmune \(finding\)$|\bimmune to\b|hepatitis.*(vaccin|antibody|serolog)|(vaccin|antibody|serolog).*hepatitis|^(?!.*immunodeficien).*vaccinat"),
                 ("HIV-exposed or negative, not infected", r"exposed|\bhiv negative|negative for|\bnot infected|\bnot detected|at risk|screening|suspected"),
                 ("care activity / diet / knowledge test / fear, not a condition", r"^care of|\bdiet\b|knowledge|score|^fear of|sex aids"),
                 ("immunosuppressive therapy (regime) — drug exposure is handled by the medication rules", r"^immunosuppress(ive|ant)( drug)? therapy$"),
                 ("alpha-1 antitrypsin deficiency, not an immunodeficiency (word match)", r"alpha-1"),
                 X_FAMILY],
        ecl=("<< 86406008 |Human immunodeficiency virus infection (disorder)| OR << 234532001 |Immunodeficiency disorder (disorder)|"
             " OR << 370388006 |Patient immunocompromised (finding)| OR << 370391006 |Patient immunosuppressed (finding)|"
             " OR << 303011007 |Neutropenic disorder (disorder)| OR << 165517008 |Neutropenia (finding)|"
             " OR << 61977001 |Chronic type B viral hepatitis (disorder)| OR << 128302006 |Chronic hepatitis C (disorder)|"),
    ),
    "herpes-zoster": dict(
        harvest=[("ALL_VSAC", r"zoster|shingles")],
        exclude=[("vaccination / immunity / varicella only / post-herpetic neuralgia", r"vaccin|immun|post-?herpetic|varicella(?!.*zoster)|chickenpox|contact|exposure|history"),
                 X_PROC],
        ecl="<< 4740000 |Herpes zoster (disorder)|",
    ),
    "gi-perforation-or-diverticulitis": dict(
        harvest=[(["ALL_VSAC", "gps"], r"(perforat.*(gastric|duodenal|peptic|ulcer|intestin|bowel|colon|rectum|rectal|esophag|oesophag|jejun|ileum|ileal|sigmoid|appendi|gastrointestinal|stomach|c[a]?ecum|diverticul)|(gastric|duodenal|peptic|ulcer|intestin|bowel|colon|rectum|rectal|esophag|oesophag|jejun|ileum|ileal|sigmoid|appendi|gastrointestinal|stomach|c[a]?ecum|diverticul).*perforat)|diverticulitis"
                  # v3: "rupture" of a hollow GI organ is a perforation (e.g. "Rupture of appendix"); variceal rupture is removed below
                  r"|ruptur.*(appendi|intestin|bowel|colon|esophag|oesophag|stomach|gastric|duodenal|duodenum|jejun|ileum|sigmoid|c[a]?ecum|diverticul)"
                  r"|(appendi|intestin|bowel|colon|esophag|oesophag|stomach|gastric|duodenal|duodenum|jejun|ileum|sigmoid|c[a]?ecum|diverticul)[a-z]* ruptur")],
        exclude=[X_PROC, ("rupture of varices (bleeding), not a perforation", r"varice|variceal"),
                 ("not a GI perforation", r"tympanic|\bear\b|uter|septum|nasal|bladder|during (procedure|surgery)|\bwithout perforation|amebic|amoebic"),
                 ("diverticulosis without diverticulitis", r"without diverticulitis")],
        ecl=("<< 307496006 |Diverticulitis (disorder)| OR << 56905009 |Perforation of intestine (disorder)| OR << 79118000 |Acute peptic ulcer with perforation (disorder)|"
             " OR << 88968005 |Duodenal ulcer with perforation (disorder)| OR << 19850005 |Acute gastric ulcer with perforation (disorder)|"
             " OR << 31301004 |Chronic gastric ulcer with perforation (disorder)| OR << 49916007 |Chronic duodenal ulcer with perforation (disorder)|"),
    ),
    # ---------------------------------------------------------------- renal / hepatic
    "ckd-stage-4": dict(
        harvest=[(["ALL_VSAC", "gps", "ocl_primis_ckd35", "ocl_primis_ckd_cov"], r"(chronic kidney disease|chronic renal|ckd).*stage 4|stage 4.*(chronic kidney disease|chronic renal)")],
        exclude=[X_FAMILY, X_PROC],
        ecl="<< 431857002 |Chronic kidney disease stage 4 (disorder)|",
    ),
    "end-stage-renal": dict(
        include=["vsac26_EndStageRenalDisease", "vsac22_EndStageRenalDisease", "vsac26_ChronicKidneyDiseaseStage5", "vsac22_ChronicKidneyDisease_Stage5"],
        harvest=[(["ALL_VSAC", "ocl_primis_ckd35", "ocl_primis_ckd_cov"],
                  r"(chronic kidney disease|chronic renal|ckd).*stage 5|stage 5.*(chronic kidney disease|chronic renal)|end.stage renal|end.stage kidney|\besrd\b|dependence on (renal )?dialysis|dialysis status|on dialysis|renal dialysis status|anephric|dependence on hemodialysis|dependence on peritoneal")],
        exclude=[X_FAMILY, X_PROC, ("not dependent on dialysis / declined / unsuitable / at risk", r"not on dialysis|declined|refused|unsuitable|at risk|suspected|\bno\b|awaiting|fear")],
        ecl="<< 433146000 |Chronic kidney disease stage 5 (disorder)| OR << 46177005 |End-stage renal disease (disorder)|",
    ),
    "hepatic-failure": dict(
        harvest=[(["ALL_VSAC", "gps", "ocl_primis_cld"],
                  r"hepatic failure|liver failure|hepatic insufficiency|hepatic encephalopathy|portal.systemic encephalopathy|hepatorenal|hepatic coma|decompensated (cirrhosis|liver)|acute-on-chronic liver failure|fulminant hepati|hepatic decompensation")],
        exclude=[X_FAMILY, X_HISTORY, ("at risk / negation", r"at risk|\bno\b|absent"),
                 ("hepatitis explicitly without hepatic coma (not hepatic failure)", r"without hepatic coma|without coma")],
        ecl=("<< 59927004 |Hepatic failure (disorder)| OR << 51292008 |Hepatorenal syndrome (disorder)| OR << 13920009 |Hepatic encephalopathy (disorder)|"),
    ),
    "cirrhosis": dict(
        harvest=[(["ALL_VSAC", "gps", "ocl_primis_cld"], r"cirrhosis")],
        exclude=[X_FAMILY, ("not cirrhosis of the liver", r"\blung|pulmonary|renal|kidney|pancrea|cardiac cirrhosis of (?!liver)")],
        ecl="<< 19943007 |Cirrhosis of liver (disorder)|",
    ),
    "decompensation-signs": dict(
        harvest=[(["ALL_VSAC", "gps", "ocl_primis_cld"], r"ascites|esophageal varices|oesophageal varices|gastric varices|gastroesophageal varices|variceal|hepatic encephalopathy|portal.systemic encephalopathy")],
        exclude=[X_FAMILY, X_PROC, ("fetal / chylous ascites", r"\bfetal|\bfoetal|fetus|chylous"),
                 ("ascites not due to liver disease (tuberculous / malignant)", r"tubercul|malignant ascites"),
                 ("varices without stated bleeding (portal hypertension, not a decompensating event) — decision, review", r"^(?!.*(bleed|hemorrh|haemorrh|rupture)).*(varices|variceal)|without bleeding")],
        ecl=("(<< 389026000 |Ascites (disorder)| OR << 13920009 |Hepatic encephalopathy (disorder)| OR << 17709002 |Bleeding esophageal varices (disorder)|"
             " OR << 24807004 |Bleeding gastric varices (disorder)|) MINUS (<< 4501007 |Tuberculous ascites (disorder)| OR << 236005001 |Malignant ascites (disorder)|)"),
    ),
    # ---------------------------------------------------------------- eyes
    "keratitis": dict(
        include=["vsac26_CentralCornealUlcer", "vsac22_CentralCornealUlcer"],
        harvest=[(["ALL_VSAC", "gps"], r"keratitis|keratoconjunctivitis|corneal ulcer|ulcer of cornea")],
        exclude=[("keratoconjunctivitis sicca = dry eye (see dry-eye)", r"sicca"), X_FAMILY, X_HISTORY],
        ecl=("(<< 5888003 |Keratitis (disorder)| OR << 88151007 |Keratoconjunctivitis (disorder)| OR << 91514001 |Corneal ulcer (disorder)|)"
             " MINUS << 302896008 |Keratoconjunctivitis sicca (disorder)|"),
    ),
    "conjunctivitis-non-allergic": dict(
        harvest=[(["ALL_VSAC", "gps"], r"conjunctivitis")],
        exclude=[("allergic / atopic / vernal conjunctivitis (seed A footnote **)", r"allergic|atopic|vernal|hay fever|seasonal|perennial|rhinoconjunctivitis|giant papillary"),
                 ("keratoconjunctivitis sicca = dry eye (see dry-eye)", r"sicca"),
                 ("self-inflicted, not conjunctivitis proper", r"artefacta"),
                 X_FAMILY, X_HISTORY],
        ecl=("<< 9826008 |Conjunctivitis (disorder)| MINUS (<< 231854006 |Atopic conjunctivitis (disorder)| OR << 318316003 |Vernal conjunctivitis (disorder)|"
             " OR << 231864002 |Conjunctivitis artefacta (disorder)|)"),
    ),
    "dry-eye": dict(
        harvest=[(["ALL_VSAC", "gps"], r"dry eye|sicca|xerophthalmia|tear film insufficiency|aqueous tear deficiency|keratoconjunctivitis sicca")],
        exclude=[X_FAMILY],
        ecl="<< 162290004 |Dry eyes (finding)| OR << 302896008 |Keratoconjunctivitis sicca (disorder)| OR << 363677007 |Xerophthalmia (disorder)|",
    ),
    # ---------------------------------------------------------------- comorbid indications
    "atopic-dermatitis": dict(
        include=["ocl_nhsd_atopic_dermatitis"],
        harvest=[("ALL_VSAC", r"atopic dermatitis|atopic eczema|constitutional eczema|besnier")],
        exclude=[X_FAMILY, X_HISTORY],
        ecl="<< 24079001 |Atopic dermatitis|",
    ),
    "rheumatoid-arthritis": dict(
        include=["vsac22_RheumatoidArthritis", "ocl_nhsd_ra"],
        exclude=[X_FAMILY, X_HISTORY, ("screening / negation", r"screening|\bno\b|seronegative arthritis(?! rheumatoid)")],
        ecl="<< 69896004 |Rheumatoid arthritis (disorder)|",
    ),
    "psoriatic-arthritis": dict(
        include=["vsac22_PsoriaticArthritis", "ocl_opensafely_psa"],
        harvest=[("ALL_VSAC", r"psoriatic arthritis|psoriatic arthropathy|arthritis.*psoria|psoriatic spondyl")],
        exclude=[X_FAMILY],
        ecl="<< 33339001 |Psoriasis with arthropathy (disorder)|",
    ),
    "axial-spondyloarthritis": dict(
        include=["vsac22_AnkylosingSpondylitis", "ocl_user_axspa"],
        harvest=[("ALL_VSAC", r"ankylosing spondyl|axial spondyloarthritis|spondyloarthritis")],
        exclude=[X_FAMILY],
        ecl="<< 9631008 |Ankylosing spondylitis (disorder)|",
    ),
    "inflammatory-bowel-disease": dict(
        union=["ulcerative-colitis", "crohns-disease"],
        harvest=[("ALL_VSAC", r"inflammatory bowel disease|indeterminate colitis")],
        exclude=[X_FAMILY],
        ecl="<< 34000006 |Crohn's disease (disorder)| OR << 64766004 |Ulcerative colitis (disorder)|",
    ),
    "ulcerative-colitis": dict(
        include=["ocl_nhsd_uc"],
        harvest=[("ALL_VSAC", r"ulcerative colitis|ulcerative proctitis|ulcerative proctosigmoiditis|ulcerative pancolitis|ulcerative rectosigmoiditis")],
        exclude=[X_FAMILY],
        ecl="<< 64766004 |Ulcerative colitis (disorder)|",
    ),
    "crohns-disease": dict(
        include=["ocl_nhsd_crohns"],
        harvest=[("ALL_VSAC", r"crohn|regional enteritis|regional ileitis")],
        exclude=[X_FAMILY],
        ecl="<< 34000006 |Crohn's disease (disorder)|",
    ),
    "asthma": dict(
        include=["vsac26_Asthma", "vsac22_Asthma", "ocl_nhsd_ast_cod", "ocl_primis_ast"],
        exclude=[X_FAMILY, ("resolved / negation / screening / not asthma", r"resolved|\bno\b|screening|at risk|suspected|allergic bronchopulmonary|bronchopulmonary mycosis")],
        ecl="<< 195967001 |Asthma (disorder)|",
    ),
    "copd": dict(
        include=["ocl_nhsd_copd_cod"],
        harvest=[(["ALL_VSAC", "ocl_primis_resp_cov"], r"chronic obstructive|emphysema|chronic obstructive bronchitis|\bcopd\b|chronic bronchitis")],
        exclude=[X_FAMILY, ("not COPD (other emphysema / resolved)", r"resolved|interstitial emphysema|subcutaneous emphysema|surgical emphysema|mediastinal emphysema|orbital emphysema|congenital|compensatory|emphysema of (eyelid|orbit)|pulmonary interstitial|^(?!.*(chronic obstructive|\bcopd\b)).*acute bronchitis")],
        ecl="<< 13645005 |Chronic obstructive lung disease|",
    ),
    "eosinophilic-oesophagitis": dict(
        harvest=[(["ALL_VSAC", "gps"], r"eosinophilic (o)?esophagitis")], exclude=[X_FAMILY],
        ecl="<< 235599003 |Eosinophilic esophagitis (disorder)|",
    ),
    "nasal-polyps": dict(
        harvest=[(["ALL_VSAC", "gps"], r"nasal polyp|polyp of nas|polyp of (the )?(maxillary |ethmoid(al)? |frontal |sphenoid(al)? |paranasal )?sinus|sinus polyp|polyposis of nas|rhinosinusitis with (nasal )?polyp")],
        exclude=[X_FAMILY],
        ecl="<< 736499003 |Polyp of nasal cavity and/or nasal sinus (disorder)|",
    ),
    "prurigo-nodularis": dict(
        harvest=[(["ALL_VSAC", "gps"], r"prurigo nodularis|nodular prurigo")], exclude=[X_FAMILY],
        ecl="<< 63501000 |Prurigo nodularis (disorder)|",
    ),
    "alopecia-areata": dict(
        harvest=[(["ALL_VSAC", "gps"], r"alopecia areata|alopecia totalis|alopecia universalis|ophiasis")], exclude=[X_FAMILY],
        ecl="<< 68225006 |Alopecia areata (disorder)|",
    ),
}

# Spot checks (independent codes, e.g. used by Synthea): reported, never added.
SPOTCHECKS = [
    ("malignancy-excl-nmsc", "424132000", "NSCLC TNM stage 1"), ("malignancy-excl-nmsc", "254632001", "small cell carcinoma of lung"),
    ("malignancy-excl-nmsc", "109989006", "multiple myeloma"), ("malignancy-excl-nmsc", "91861009", "acute myeloid leukaemia"),
    ("malignancy-excl-nmsc", "254637007", "NSCLC"), ("malignancy-excl-nmsc", "363346000", "malignant neoplastic disease"),
    ("malignancy-excl-nmsc", "254701007", "basal cell carcinoma of skin (must be ABSENT)"),
    ("serious-infections", "76571007", "septic shock"), ("serious-infections", "10001005", "bacterial sepsis"),
    ("serious-infections", "91302008", "sepsis"), ("serious-infections", "233604007", "pneumonia"), ("serious-infections", "4740000", "herpes zoster"),
    ("ascvd", "399211009", "history of myocardial infarction"), ("ascvd", "22298006", "myocardial infarction"),
    ("ascvd", "401303003", "STEMI"), ("ascvd", "53741008", "coronary arteriosclerosis"), ("ascvd", "230690007", "CVA"),
    ("venous-thromboembolism", "706870000", "acute pulmonary embolism"), ("venous-thromboembolism", "59282003", "pulmonary embolism"),
    ("diabetes", "157141000119108", "proteinuria due to type 2 DM"), ("diabetes", "368581000119106", "neuropathy due to type 2 DM"),
    ("diabetes", "1551000119108", "nonproliferative retinopathy due to type 2 DM"), ("diabetes", "44054006", "type 2 DM"),
    ("hypertension", "59621000", "essential hypertension"), ("dyslipidaemia", "55822004", "hyperlipidaemia"),
    ("smoking-history", "449868002", "smokes tobacco daily"), ("smoking-history", "8517006", "ex-smoker"),
    ("smoking-history", "266919005", "never smoked tobacco (must be ABSENT)"),
    ("copd", "185086009", "chronic obstructive bronchitis"), ("asthma", "195967001", "asthma"),
    ("pregnancy", "72892002", "normal pregnancy"), ("pregnancy", "77386006", "pregnancy"),
    ("end-stage-renal", "46177005", "ESRD"), ("ckd-stage-4", "431857002", "CKD stage 4"),
    ("serious-infections", "128045006", "cellulitis"), ("serious-infections", "60168000", "osteomyelitis"),
    ("serious-infections", "233850007", "infective endocarditis"), ("serious-infections", "7180009", "meningitis"),
    ("serious-infections", "415125002", "pneumocystis pneumonia"), ("serious-infections", "230156002", "malignant meningitis (must be ABSENT)"),
    ("dyslipidaemia", "370992007", "dyslipidaemia"), ("dyslipidaemia", "13644009", "hypercholesterolaemia"),
    ("tuberculosis-latent", "268376005", "Mantoux positive"), ("tuberculosis-any", "161414005", "history of tuberculosis"),
    ("malignancy-history-codes", "266987004", "history of malignant neoplasm"),
    ("malignancy-history-codes", "428053000", "history of BCC of skin (must be ABSENT)"),
    ("decompensation-signs", "389026000", "ascites"), ("decompensation-signs", "17709002", "bleeding oesophageal varices"),
    ("decompensation-signs", "4501007", "tuberculous ascites (must be ABSENT)"),
    ("gi-perforation-or-diverticulitis", "307496006", "diverticulitis"), ("gi-perforation-or-diverticulitis", "56905009", "perforation of intestine"),
    ("pregnancy-wish", "454411000124108", "wants to become pregnant"), ("dry-eye", "162290004", "dry eyes"),
    ("eosinophilic-oesophagitis", "235599003", "eosinophilic oesophagitis"), ("prurigo-nodularis", "63501000", "prurigo nodularis"),
    ("alopecia-areata", "68225006", "alopecia areata"), ("nasal-polyps", "736499003", "polyp of nasal cavity and/or sinus"),
    ("hepatic-failure", "59927004", "hepatic failure"), ("hepatic-failure", "111891008", "viral hepatitis B without hepatic coma (must be ABSENT)"),
    ("infection-risk-conditions", "234532001", "immunodeficiency disorder"),
    # v3 (corpus review; labels from the published FSN, codes reached only through the recipes above)
    ("infection-risk-conditions", "62479008", "AIDS (v2 exclusion bug)"), ("infection-risk-conditions", "111880001", "acute HIV infection"),
    ("infection-risk-conditions", "718107000", "SCID T-cell negative B-cell positive"),
    ("infections", "67678004", "acute atopic conjunctivitis (must be ABSENT)"), ("infections", "25374005", "gastroenteritis NOS (must be ABSENT)"),
    ("infections", "118618005", "mycosis fungoides (must be ABSENT)"), ("infections", "38822007", "cystitis"),
    ("hypertension", "64715009", "hypertensive heart disease"), ("hypertension", "65402008", "pre-existing hypertension complicating pregnancy"),
    ("hypertension", "398254007", "pre-eclampsia (must be ABSENT)"), ("pregnancy", "398254007", "pre-eclampsia"),
    ("pregnancy", "198985009", "severe pre-eclampsia - not delivered"), ("pregnancy-ended", "35999006", "blighted ovum"),
    ("smoking-history", "89765005", "tobacco dependence syndrome"), ("smoking-history", "160617001", "stopped smoking"),
    ("gi-perforation-or-diverticulitis", "47693006", "rupture of appendix"), ("copd", "106001000119101", "COPD with acute bronchitis"),
]

# ============================================================================================
# GitHub-published code lists (vendored verbatim under ./vendor/)
# ============================================================================================
OSDI = ("opensafely/disease_incidence", "fc298800a6f934bf33474f9fc00156dc84b4cbd7", "vendor/opensafely-disease_incidence")
OSVC = ("opensafely/nhs-covid-vaccination-coverage", "e5cb2e9edb0c8be2cd5d2bd60976c7075adef2da", "vendor/opensafely-nhs-covid-vaccination-coverage")
OSAMR = ("opensafely/amr-uom-brit", "59ef7ca778d4971d98d7c1f39f6ac3269f8b3645", "vendor/opensafely-amr-uom-brit")
OSMAB = ("opensafely/mab-av-non-users", "91dd52cba97f61a833004fed33f5427f5304c77c", "vendor/opensafely-mab-av-non-users")
SOURCES_GITHUB = {
    # id: (repo tuple, file name, code column, term column, publisher note)
    "ocl_nhsd_atopic_dermatitis": (OSDI, "nhsd-primary-care-domain-refsets-atopic-dermatitis-codes.csv", "code", "term", "NHS England Primary Care Domain reference set"),
    "ocl_nhsd_ast_cod": (OSDI, "nhsd-primary-care-domain-refsets-ast_cod.csv", "code", "term", "NHS England Primary Care Domain reference set (QOF cluster AST_COD)"),
    "ocl_nhsd_copd_cod": (OSDI, "nhsd-primary-care-domain-refsets-copd_cod.csv", "code", "term", "NHS England Primary Care Domain reference set (QOF cluster COPD_COD)"),
    "ocl_nhsd_crohns": (OSDI, "nhsd-primary-care-domain-refsets-crohns-disease-codes.csv", "code", "term", "NHS England Primary Care Domain reference set"),
    "ocl_nhsd_uc": (OSDI, "nhsd-primary-care-domain-refsets-ulcerative-colitis-uc-codes.csv", "code", "term", "NHS England Primary Care Domain reference set"),
    "ocl_nhsd_ra": (OSDI, "nhsd-primary-care-domain-refsets-rheumatoid-arthritis-disorders.csv", "code", "term", "NHS England Primary Care Domain reference set"),
    "ocl_nhsd_hiv": (OSDI, "nhsd-primary-care-domain-refsets-human-immunodeficiency-virus-hiv-codes.csv", "code", "term", "NHS England Primary Care Domain reference set"),
    "ocl_nhsd_chd_cod": (OSDI, "nhsd-primary-care-domain-refsets-chd_cod.csv", "code", "term", "NHS England Primary Care Domain reference set (QOF cluster CHD_COD)"),
    "ocl_nhsd_strk_cod": (OSDI, "nhsd-primary-care-domain-refsets-strk_cod.csv", "code", "term", "NHS England Primary Care Domain reference set (QOF cluster STRK_COD)"),
    "ocl_nhsd_tia_cod": (OSDI, "nhsd-primary-care-domain-refsets-tia_cod.csv", "code", "term", "NHS England Primary Care Domain reference set (QOF cluster TIA_COD)"),
    "ocl_nhsd_dmtype1audit_cod": (OSDI, "nhsd-primary-care-domain-refsets-dmtype1audit_cod.csv", "code", "term", "NHS England Primary Care Domain reference set"),
    "ocl_nhsd_dmtype2audit_cod": (OSDI, "nhsd-primary-care-domain-refsets-dmtype2audit_cod.csv", "code", "term", "NHS England Primary Care Domain reference set"),
    "ocl_primis_preg": (OSVC, "primis-covid19-vacc-uptake-preg.csv", "code", "term", "PRIMIS COVID-19 vaccination uptake cluster PREG_COD"),
    "ocl_primis_pregdel": (OSVC, "primis-covid19-vacc-uptake-pregdel.csv", "code", "term", "PRIMIS COVID-19 vaccination uptake cluster PREGDEL_COD"),
    "ocl_primis_ckd35": (OSVC, "primis-covid19-vacc-uptake-ckd35.csv", "code", "term", "PRIMIS COVID-19 vaccination uptake cluster CKD35_COD"),
    "ocl_primis_ckd_cov": (OSVC, "primis-covid19-vacc-uptake-ckd_cov.csv", "code", "term", "PRIMIS COVID-19 vaccination uptake cluster CKD_COV"),
    "ocl_primis_cld": (OSVC, "primis-covid19-vacc-uptake-cld.csv", "code", "term", "PRIMIS COVID-19 vaccination uptake cluster CLD_COD"),
    "ocl_primis_diab": (OSVC, "primis-covid19-vacc-uptake-diab.csv", "code", "term", "PRIMIS COVID-19 vaccination uptake cluster DIAB_COD"),
    "ocl_primis_immdx_cov": (OSVC, "primis-covid19-vacc-uptake-immdx_cov.csv", "code", "term", "PRIMIS COVID-19 vaccination uptake cluster IMMDX_COV"),
    "ocl_primis_ast": (OSVC, "primis-covid19-vacc-uptake-ast.csv", "code", "term", "PRIMIS COVID-19 vaccination uptake cluster AST_COD"),
    "ocl_primis_resp_cov": (OSVC, "primis-covid19-vacc-uptake-resp_cov.csv", "code", "term", "PRIMIS COVID-19 vaccination uptake cluster RESP_COV"),
    "ocl_primis_chd_cov": (OSVC, "primis-covid19-vacc-uptake-chd_cov.csv", "code", "term", "PRIMIS COVID-19 vaccination uptake cluster CHD_COV"),
    "ocl_opensafely_psa": (OSVC, "opensafely-psoriatic-arthritis.csv", "id", "term", "OpenSAFELY curated codelist"),
    "ocl_user_axspa": (OSVC, "user-mark-yates-axial-spondyloarthritis.csv", "code", "term", "OpenCodelists user codelist (not an official refset)"),
    "ocl_user_rriefu_sepsis": (OSAMR, "user-rriefu-sepsis.csv", "code", "term", "OpenCodelists user codelist (not an official refset)"),
    "ocl_user_rriefu_pneumonia": (OSAMR, "user-rriefu-pneumonia.csv", "code", "term", "OpenCodelists user codelist (not an official refset)"),
    "ocl_nhsd_immunosuppression": (OSMAB, "nhsd-immunosupression-pcdcluster-snomed-ct.csv", "code", "term", "NHS Digital immunosuppression primary-care-domain cluster (SNOMED CT)"),
}


# ============================================================================================
# Loading
# ============================================================================================
def ensure_canvas() -> str:
    os.makedirs(CACHE, exist_ok=True)
    whl = os.path.join(CACHE, CANVAS_WHEEL)
    if not os.path.exists(whl):
        subprocess.run([sys.executable, "-m", "pip", "download", "canvas==0.261.0", "--no-deps", "-d", CACHE], check=True)
    return whl


def ensure_npm(specs=None) -> list[str]:
    os.makedirs(CACHE, exist_ok=True)
    paths = []
    for spec in (NPM_PACKAGES if specs is None else specs):
        name, ver = spec.split("@")
        tgz = os.path.join(CACHE, f"{name}-{ver}.tgz")
        if not os.path.exists(tgz):
            subprocess.run(["npm", "pack", spec, "--pack-destination", CACHE], check=True, stdout=subprocess.DEVNULL)
        paths.append(tgz)
    return paths


LINE_RE = re.compile(r'^\s*"([^"]+)",\s*#\s*(.*)$')


def load_canvas(whl: str) -> dict[str, dict]:
    """Return {source_id: {'codes': {code: display}, meta...}} for every VSAC class with SNOMEDCT."""
    out: dict[str, dict] = {}
    with zipfile.ZipFile(whl) as z:
        names = sorted(n for n in z.namelist() if re.match(r"canvas_sdk/value_set/v20(26|22)/[^/]+\.py$", n) and not n.endswith("__init__.py"))
        for n in names:
            ver = "vsac26" if "/v2026/" in n else "vsac22"
            src = z.read(n).decode("utf-8")
            lines = src.split("\n")
            tree = ast.parse(src)
            for node in tree.body:
                if not isinstance(node, ast.ClassDef):
                    continue
                d: dict = {"class": node.name, "file": n}
                for st in node.body:
                    if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
                        key = st.targets[0].id
                        if isinstance(st.value, ast.Constant):
                            d[key] = st.value.value
                        elif key == "SNOMEDCT" and isinstance(st.value, ast.Set):
                            codes = {}
                            for ln in lines[st.lineno - 1: st.end_lineno]:
                                m = LINE_RE.match(ln)
                                if m:
                                    codes[m.group(1)] = m.group(2).strip()
                            for e in st.value.elts:
                                if isinstance(e, ast.Constant) and e.value not in codes:
                                    codes[e.value] = ""
                            d["codes"] = codes
                if d.get("codes"):
                    sid = f"{ver}_{node.name}"
                    out[sid] = {
                        "codes": d["codes"],
                        "title": d.get("VALUE_SET_NAME", node.name),
                        "url": f"http://cts.nlm.nih.gov/fhir/ValueSet/{d.get('OID')}",
                        "version": f"definition {d.get('DEFINITION_VERSION')}; expansion {d.get('EXPANSION_VERSION')}",
                        "expansion": d.get("EXPANSION_VERSION"),
                        "via": f"PyPI canvas==0.261.0 {n} class {node.name}",
                        "kind": "vsac",
                    }
    return out


def load_github() -> dict[str, dict]:
    out = {}
    meta_cache: dict[str, dict] = {}
    for sid, ((repo, commit, vdir), fname, ccol, tcol, note) in SOURCES_GITHUB.items():
        if vdir not in meta_cache:
            meta_cache[vdir] = json.load(open(os.path.join(HERE, vdir, "codelists.json"), encoding="utf-8"))["files"]
        meta = meta_cache[vdir][fname]
        codes = {}
        with open(os.path.join(HERE, vdir, fname), encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                c = row[ccol].strip()
                if c and c.isdigit():
                    codes.setdefault(c, row[tcol].strip())
        out[sid] = {
            "codes": codes,
            "title": f"{meta['id']} — {note}",
            "url": meta["url"].replace("codelists.opensafely.org", "www.opencodelists.org"),
            "version": meta["id"].rsplit("/", 1)[1] + f" (downloaded from OpenCodelists {meta.get('downloaded_at', '')[:10]})",
            "expansion": "SNOMED CT UK Edition (release as used by OpenCodelists for this version)",
            "via": f"github {repo} codelists/{fname} @ {commit} (vendored: {vdir}/{fname})",
            "kind": "ocl",
        }
    return out


def load_npm(tgzs: list[str]) -> dict[str, dict]:
    """Concept ids used in compose filters of SNOMED CT value sets (for ECL id checks)."""
    out = {}
    for tgz in tgzs:
        pkg = os.path.basename(tgz)[:-4]
        with tarfile.open(tgz) as t:
            for m in sorted(t.getmembers(), key=lambda m: m.name):
                if not re.match(r"package/ValueSet-.*\.json$", m.name):
                    continue
                j = json.load(t.extractfile(m))
                ids = {}
                for inc in j.get("compose", {}).get("include", []) + j.get("compose", {}).get("exclude", []):
                    if inc.get("system") != SYSTEM:
                        continue
                    for flt in inc.get("filter", []):
                        if flt.get("property") == "concept":
                            ids[flt["value"]] = f"filter {flt['op']}"
                    for c in inc.get("concept", []):
                        ids[c["code"]] = c.get("display", "")
                if ids:
                    sid = ("mcode_" if "mcode" in pkg else "ips_") + j["id"].replace("-", "_")
                    out[sid] = {"codes": ids, "title": j.get("title") or j.get("name"), "url": j["url"],
                                "version": j.get("version", ""), "expansion": "intensional (no expansion in package)",
                                "via": f"npm {pkg.replace('-', '@', 1) if False else pkg} package/{os.path.basename(m.name)}", "kind": "npm"}
    return out


def load_gps(tgz: str) -> dict[str, dict]:
    """SNOMED CT Global Patient Set (ids + fully specified names, no hierarchy); members tagged GPS_TAGS only."""
    with tarfile.open(tgz) as t:
        j = json.load(t.extractfile(GPS_FILE))
    codes, total, sctver = {}, 0, ""
    for inc in j["compose"]["include"]:
        if inc.get("system") != SYSTEM:
            continue
        sctver = inc.get("version", sctver)
        for c in inc.get("concept", []):
            total += 1
            m = re.search(r"\(([^()]*)\)$", c.get("display", ""))
            if m and m.group(1) in GPS_TAGS:
                codes[c["code"]] = c["display"]
    pkg = GPS_PACKAGE
    return {"gps": {
        "codes": codes,
        "title": f"{j['title']} — members with semantic tag {', '.join('(' + x + ')' for x in GPS_TAGS)} ({len(codes)} of {total} concepts)",
        "url": j["url"],
        "version": f"{j['version']} (ValueSet date {j.get('date', '')}; compose system version {sctver})",
        "expansion": f"SNOMED CT International Edition ({sctver.rsplit('/', 1)[-1]}) via the GPS",
        "via": f"npm {pkg} {GPS_FILE}",
        "kind": "gps"}}


def load_uscore() -> dict[str, dict]:
    """US Core pregnancy-intent SNOMED CT codes from the IG's narrative table (vendored file)."""
    repo, commit, vdir, fname, path = USCORE
    codes = {}
    for ln in open(os.path.join(HERE, vdir, fname), encoding="utf-8"):
        m = re.match(r"^(\d{6,18})\|([^|]+)\|", ln.strip())
        if m:
            codes[m.group(1)] = m.group(2).strip()
    return {"uscore_pregnancy_intent": {
        "codes": codes,
        "title": "US Core Pregnancy Intent Codes (binds VSAC Pregnancy Intention 2.16.840.1.113762.1.4.1166.22, version 20230802); SNOMED CT members as tabulated in the IG",
        "url": "http://hl7.org/fhir/us/core/ValueSet/us-core-pregnancy-intent",
        "version": "US Core 9.0.0 (sushi-config at the commit below); VSAC value set version 20230802 per input/data/valueset-ref-all-list.csv",
        "expansion": "SNOMED CT US Edition (codes as listed by the US Core IG)",
        "via": f"github {repo} {path} @ {commit} (vendored: {vdir}/{fname})",
        "kind": "uscore"}}


# ============================================================================================
# Building
# ============================================================================================
def build(sources: dict[str, dict]):
    vsac_ids = sorted(s for s in sources if sources[s]["kind"] == "vsac")
    priority = {sid: i for i, sid in enumerate(
        sorted(sources, key=lambda s: (0 if s.startswith("vsac26") else 1 if s.startswith("vsac22") else 2 if s.startswith("ocl_nhsd") else 3, s)))}
    results: dict[str, dict] = {}
    removed: dict[str, list] = {}
    used_sources: set[str] = set()

    def resolve(key: str, stack=()):
        if key in results:
            return results[key]
        if key in stack:
            raise SystemExit(f"cycle {stack}")
        r = RECIPES[key]
        members: dict[str, set] = {}

        def add(code, sid):
            members.setdefault(code, set()).add(sid)

        for sid in r.get("include", []):
            if sid not in sources:
                raise SystemExit(f"{key}: unknown source {sid}")
            for c in sources[sid]["codes"]:
                add(c, sid)
        for scope, rx in r.get("harvest", []):
            rxc = re.compile(rx, re.I)
            scope_ids = []
            for s in ([scope] if isinstance(scope, str) else scope):
                scope_ids += vsac_ids if s == "ALL_VSAC" else [s]
            for sid in scope_ids:
                if sid not in sources:
                    raise SystemExit(f"{key}: unknown source {sid}")
                for c, disp in sources[sid]["codes"].items():
                    if rxc.search(disp):
                        add(c, sid)
        for other in r.get("union", []):
            for c, sids in resolve(other, stack + (key,))["members"].items():
                for sid in sids:
                    add(c, sid)

        def display(c):
            sids = sorted(members[c], key=lambda s: priority[s])
            for sid in sids:
                d = sources[sid]["codes"].get(c, "")
                if d:
                    return d
            return ""

        rem = []
        sub = {}
        for sid in r.get("subtract", []):
            for c in sources[sid]["codes"]:
                sub[c] = sid
        # X_PROC applies to every concept: these are Condition value sets, procedures are never members
        excl = [(reason, re.compile(rx, re.I)) for reason, rx in r.get("exclude", []) + ([] if X_PROC in r.get("exclude", []) else [X_PROC])]
        final = {}
        for c in sorted(members, key=int):
            d = display(c)
            why = None
            if c in sub:
                why = f"member of {sub[c]}"
            else:
                # test every published display of the code, not only the chosen one
                disps = {sources[s]["codes"].get(c, "") for s in members[c]} | {d}
                for reason, rx in excl:
                    if any(rx.search(x) for x in disps if x):
                        why = reason
                        break
            if why:
                rem.append((c, d, why, ",".join(sorted(members[c]))))
            else:
                final[c] = members[c]
        for c in final:
            used_sources.update(final[c])
        results[key] = {"members": final, "display": {c: display(c) for c in final}}
        removed[key] = rem
        return results[key]

    for key in RECIPES:
        resolve(key)
    return results, removed, used_sources


def version_line(key, res, sources):
    exps = sorted({sources[s]["expansion"] for c in res["members"] for s in res["members"][c]})
    parts = []
    if any(e == "eCQM Update 2025-05-08" for e in exps):
        parts.append("SNOMED CT US Edition as expanded by VSAC for eCQM Update 2025-05-08 (release not stated by the source)")
    if any(e == "eCQM Update 2021-05-06" for e in exps):
        parts.append("SNOMED CT US Edition as expanded by VSAC for eCQM Update 2021-05-06")
    if any(e.startswith("SNOMED CT UK Edition") for e in exps):
        parts.append("SNOMED CT UK Edition as published on OpenCodelists (NHS England refsets / PRIMIS clusters; versions in sources.toml)")
    for e in exps:
        if e.startswith("SNOMED CT International Edition") or e.startswith("SNOMED CT US Edition (codes as listed"):
            parts.append(e)
    return "; ".join(parts) if parts else "no published member found"


def method_line(key):
    r = RECIPES[key]
    bits = []
    if r.get("include"):
        bits.append(f"union of {len(r['include'])} published value sets")
    if r.get("harvest"):
        bits.append("members of published sets selected by display pattern")
    if r.get("union"):
        bits.append("plus expansions " + ", ".join(r["union"]))
    if r.get("subtract"):
        bits.append("minus members of " + ", ".join(r["subtract"]))
    if r.get("exclude"):
        bits.append(f"minus {len(r['exclude'])} documented display-pattern exclusions")
    return "; ".join(bits) + " — built by build.py"


ECL_ERRORS: list[str] = []
ECL_TOKEN = re.compile(r"\s*(\((?=<|\d)|(?<=\|)\)|\bOR\b|\bMINUS\b|(?:<<|<)?\s*\d{6,18}\s*\|[^|]*\|)")


def check_ecl_form(key, ecl):
    """Allowed form: F (OR F)*  |  G MINUS G  where G = F or (F OR F ...) and F = [<<|<] id |term|.
    A disjunction on either side of MINUS must be bracketed; nothing else is allowed."""
    toks, pos = [], 0
    while pos < len(ecl):
        m = ECL_TOKEN.match(ecl, pos)
        if not m:
            ECL_ERRORS.append(f"ecl {key}: cannot parse at ...{ecl[pos:pos + 30]!r}")
            return
        toks.append(m.group(1).strip())
        pos = m.end()
    kinds = ["F" if t not in ("(", ")", "OR", "MINUS") else t for t in toks]
    seq = " ".join(kinds)
    group = r"(F|\( F( OR F)+ \))"
    if not (re.fullmatch(r"F( OR F)*", seq) or re.fullmatch(group + " MINUS " + group, seq)):
        ECL_ERRORS.append(f"ecl {key}: form not allowed ({seq}); bracket a disjunction before/after MINUS")
ECL_TERM = re.compile(r"(<<|<)?\s*(\d{6,18})\s*\|([^|]*)\|")


def check_ecl(key, ecl, sources):
    """Every id in the ECL must be a member (VSAC / OCL) or a filter value (npm IG) of a loaded source, and its term
    must equal a published display of that id, when a display is published."""
    notes = []
    for _, cid, term in ECL_TERM.findall(ecl):
        found = [(sid, s["codes"][cid]) for sid, s in sorted(sources.items()) if cid in s["codes"]]
        if not found:
            ECL_ERRORS.append(f"ecl {key}: {cid} is in no loaded published source")
            continue
        withdisp = [sid for sid, d in found if d == term.strip()]
        if not withdisp and not any(d.startswith("filter") for _, d in found):
            ECL_ERRORS.append(f"ecl {key}: term '{term}' for {cid} not published; displays: {sorted({d for _, d in found})}")
            continue
        shown = withdisp[:4] + [sid for sid, d in found if d.startswith("filter")][:2]
        notes.append(f"# {cid} |{term.strip()}|: " + ", ".join(shown or [found[0][0]]) + (f" (+{len(found) - len(shown)} more)" if len(found) > len(shown) else ""))
    return notes


def main():
    whl = ensure_canvas()
    tgzs = ensure_npm()
    gps_tgz = ensure_npm([GPS_PACKAGE])[0]
    sources = {}
    sources.update(load_canvas(whl))
    sources.update(load_github())
    sources.update(load_npm(tgzs))
    sources.update(load_gps(gps_tgz))
    sources.update(load_uscore())
    results, removed, used = build(sources)

    os.makedirs(OUT, exist_ok=True)
    os.makedirs(REMOVED, exist_ok=True)
    os.makedirs(REPORT, exist_ok=True)
    summary = {}
    for key in RECIPES:
        res = results[key]
        lines = [f"# expansion: {key}", f"# system: {SYSTEM}", f"# version: {version_line(key, res, sources)}",
                 f"# date: {DATE}", f"# method: {method_line(key)}", "code\tdisplay\tfrom"]
        for c in sorted(res["members"], key=int):
            lines.append(f"{c}\t{res['display'][c]}\t{','.join(sorted(res['members'][c]))}")
        with open(os.path.join(OUT, f"{key}.tsv"), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(REMOVED, f"{key}.tsv"), "w", encoding="utf-8", newline="\n") as f:
            f.write("code\tdisplay\treason\tfrom\n")
            for c, d, why, frm in removed[key]:
                f.write(f"{c}\t{d}\t{why}\t{frm}\n")
        summary[key] = {"size": len(res["members"]), "removed": len(removed[key]),
                        "sources": sorted({s for c in res["members"] for s in res["members"][c]})}

    # sources.toml: every source contributing a member, plus the IG value sets named by ecl.toml
    ecl_sources = set()
    ecl_lines = [f"# Intensional SNOMED CT definitions (ECL subset: <<, <, self, OR, MINUS). Written by build.py on {DATE}.",
                 "# Each concept id below was checked by build.py against the loaded published sources; the comment",
                 "# line above an ecl names the source ids (see sources.toml) that publish that id with that term.",
                 "# An empty ecl means no published source named a suitable concept id (see REPORT.md).", ""]
    for key, r in RECIPES.items():
        ecl = r.get("ecl", "")
        ecl_lines.append(f"[{key}]")
        if not ecl:
            ECL_ERRORS.append(f"ecl {key}: empty")
        else:
            check_ecl_form(key, ecl)
        if ecl:
            for n in check_ecl(key, ecl, sources):
                ecl_lines.append(n)
                ecl_sources.update(x.strip().split(" ")[0] for x in n.split(": ", 1)[1].split(","))
        ecl_lines.append(f'ecl = "{ecl}"')
        ecl_lines.append("")
    with open(os.path.join(HERE, "ecl.toml"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(ecl_lines))

    listed = sorted(used | {s for s in ecl_sources if s in sources})
    st = [f"# Published sources used by build.py ({DATE}). Ids are referenced in expansions/*.tsv 'from' and in ecl.toml.", ""]
    for sid in listed:
        s = sources[sid]
        esc = lambda x: str(x).replace("\\", "\\\\").replace('"', '\\"')
        st += [f"[sources.{sid}]", f'title = "{esc(s["title"])}"', f'url = "{esc(s["url"])}"',
               f'version = "{esc(s["version"])}"', f'via = "{esc(s["via"])}"', ""]
    with open(os.path.join(HERE, "sources.toml"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(st))

    spot = ["concept\tcode\tlabel\tin_expansion\tremoved_reason\tin_any_loaded_source"]
    for key, code, label in SPOTCHECKS:
        inexp = code in results[key]["members"]
        rem = next((w for c, d, w, _ in removed[key] if c == code), "")
        anysrc = ",".join(sorted(s for s in sources if code in sources[s]["codes"]))[:300]
        spot.append(f"{key}\t{code}\t{label}\t{'yes' if inexp else 'no'}\t{rem}\t{anysrc}")
    with open(os.path.join(REPORT, "spotcheck.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(spot) + "\n")
    with open(os.path.join(REPORT, "summary.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    for key in RECIPES:
        print(f"{key:35s} {summary[key]['size']:6d}  removed {summary[key]['removed']:5d}")
    if ECL_ERRORS:
        print("\n".join(ECL_ERRORS), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
