#!/usr/bin/env python3
"""Build the RxNorm expansions of the medication and vaccine value sets and of the seven drugs.

Input: drug-sources/rxnorm.tsv, a table made by a research pass on 2026-12-02 from published
sources only, one row per RxNorm concept with its source on the row:
  * RxNorm Current Prescribable Content 2025-10-06 (NLM), as repackaged per initial letter in
    github davidanderson3/rxnorm-ingredients@a8fcf13a web/data/*.json;
  * the EMA -> RxNorm mapping of Erasmus MC, github mi-erasmusmc/ema-authorised-to-rxnorm-mappings@9cebb0a6
    ema-to-rxnorm.tsv (CC BY-SA 4.0);
  * VSAC "Immunosuppressive Drugs for Urology Care" and "Glucocorticoids (oral only)" (PyPI canvas==0.261.0);
  * PharmGKB drug vocabulary via github biopragmatics/obo-db-ingest@5613ff7e (ingredient RXCUIs).
Each row says which value set (or drug) it belongs to, and by its dose form whether the product is
systemic: `NOT-IN-SET(<form>):<set>` rows (tacrolimus ointment, ciclosporin eye drops, steroid creams
and inhalers, ketoconazole shampoo, budesonide acting in the gut…) are written to removed/ — known
non-members, so that their RxNorm code settles what they are and their names are not read;
`AMBIGUOUS(...)` ingredient codes (tacrolimus, ciclosporin, ketoconazole, the corticosteroid
ingredients: systemic and local products alike) are left out, so the product's name decides;
`CONTROL:` rows and rows marked for review (`?`, `(review: …)`) are left out.

Also drug-sources/gstandaard.tsv (Dutch G-Standaard HPK / PRK / GPK / ZI-number codes with their
displays, as they occur in Nictiz's public FHIR test and example data — the G-Standaard itself is
licensed by Z-Index and not public; rows whose code carries two different products in the examples
are left out) and drug-sources/cnk.tsv (Belgian CNK and SAM v2 codes of the hl7-be medication IG
examples), written as expansions/<set>.<system>.tsv in the same way.

Output: expansions/<set>.<system>.tsv, expansions/drug-<drug>.rxnorm.tsv, removed/<set>.<system>.tsv,
sources.drugs.toml. Deterministic; stdlib only.  Run: python3 cds-services/terminology/build_drugs.py
"""
import csv
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
VERSION = "RxNorm Current Prescribable Content 2025-10-06 (with EMA-mapped products of the Erasmus MC mapping 2025-12-04)"
DATE = "2026-12-02"
SYSTEMS = {}

SOURCES = {
    "rxnorm-prescribable-20251006": dict(
        title="RxNorm Current Prescribable Content (NLM), release 2025-10-06, repackaged per initial letter",
        url="https://www.nlm.nih.gov/research/umls/rxnorm/docs/prescribe.html",
        version="2025-10-06",
        via="github davidanderson3/rxnorm-ingredients@a8fcf13a679fa37073e8fa83e11d5e0d8cc07276 web/data/*.json"),
    "ema-rxnorm-erasmusmc": dict(
        title="EMA authorised medicines mapped to RxNorm (Erasmus MC)",
        url="https://github.com/mi-erasmusmc/ema-authorised-to-rxnorm-mappings",
        version="2025-12-04 (commit 9cebb0a6f37c02b07077d1cbb142df263549bb7c)",
        via="github mi-erasmusmc/ema-authorised-to-rxnorm-mappings@9cebb0a6f37c02b07077d1cbb142df263549bb7c ema-to-rxnorm.tsv (CC BY-SA 4.0)"),
    "vsac-immunosuppressive-urology": dict(
        title="VSAC Immunosuppressive Drugs for Urology Care",
        url="http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113762.1.4.1248.364",
        version="eCQM Update 2025-05-08 (and 2.16.840.1.113762.1.4.1151.32, eCQM Update 2021-05-06)",
        via="PyPI canvas==0.261.0 canvas_sdk/value_set/v2026 and v2022 medication.py"),
    "vsac-glucocorticoids-oral": dict(
        title="VSAC Glucocorticoids (oral only)",
        url="http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.196.12.1266",
        version="eCQM Update 2021-05-06",
        via="PyPI canvas==0.261.0 canvas_sdk/value_set/v2022/medication.py"),
    "nictiz-examples": dict(
        title="G-Standaard codes as they occur in Nictiz's public FHIR test and example data (medication process 9, zib2020)",
        url="https://github.com/Nictiz/Nictiz-testscripts",
        version="Nictiz-testscripts e851d704 (2026-05-26); HL7-mappings 7b054d26",
        via="github Nictiz/Nictiz-testscripts@e851d704dca7f25fc36f9df7713488b88a923d0d and Nictiz/HL7-mappings@7b054d26e02744427dd90e90fa96eaf1e549ebd8 (not checked against the licensed G-Standaard itself)"),
    "hl7-be-medication": dict(
        title="Belgian SAM v2 / CNK codes in the examples of the HL7 Belgium medication IG",
        url="https://github.com/hl7-be/medication",
        version="commit 25ba22db7085d215b4aa16abaa73b5da6b1e66e0",
        via="github hl7-be/medication@25ba22db7085d215b4aa16abaa73b5da6b1e66e0 input/fsh"),
    "pharmgkb-drugs": dict(
        title="PharmGKB drug vocabulary (RxNorm ingredient cross-references)",
        url="https://www.pharmgkb.org/",
        version="build 2025-10-31",
        via="github biopragmatics/obo-db-ingest@5613ff7e7e5d40905639a4092d0a4e104929710d export/pharmgkb.drug/pharmgkb.drug.obo"),
}


def source_ids(text):
    ids = []
    for part in text.split(" | "):
        if part.startswith("davidanderson3/rxnorm-ingredients"):
            ids.append("rxnorm-prescribable-20251006")
        elif part.startswith("mi-erasmusmc/ema-authorised-to-rxnorm-mappings"):
            ids.append("ema-rxnorm-erasmusmc")
        elif "Immunosuppressive Drugs for Urology Care" in part:
            ids.append("vsac-immunosuppressive-urology")
        elif "Glucocorticoids (oral only)" in part:
            ids.append("vsac-glucocorticoids-oral")
        elif part.startswith("biopragmatics/obo-db-ingest"):
            ids.append("pharmgkb-drugs")
        else:
            raise SystemExit(f"unknown source: {part[:80]}")
    return sorted(set(ids))


def main():
    members = {}   # file stem -> {code: (display, ids)}
    removed = {}   # file stem -> {code: (display, reason, ids)}
    with open(os.path.join(HERE, "drug-sources", "rxnorm.tsv"), encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            target = row["value_set_or_drug"].strip()
            code, name = row["rxcui"].strip(), row["name"].strip()
            if not code.isdigit():
                # A product the mapping names without an RXCUI: nothing to match on.
                continue
            if not target or target.startswith(("CONTROL", "AMBIGUOUS", "NOT-A-VACCINE")) or "?" in target or "(review" in target:
                continue
            ids = source_ids(row["source"])
            m = re.match(r"NOT-IN-SET\(([^)]*)\):(.*)", target)
            if m:
                form, sets = m.group(1), m.group(2)
                for s in sets.split(";"):
                    removed.setdefault(f"{s}.rxnorm", {})[code] = (name, f"{form} product: not the systemic drug this set means", ids)
                continue
            for s in target.split(";"):
                s = s.strip()
                if s == "mmr-component":
                    continue
                stem = f"drug-{s[5:]}.rxnorm" if s.startswith("drug:") else f"{s}.rxnorm"
                old = members.setdefault(stem, {}).get(code)
                members[stem][code] = (name, sorted(set(ids) | set(old[1] if old else [])))
    # G-Standaard (NL) and SAM / CNK (BE): codes of Nictiz's and hl7-be's public examples.
    GS = {"urn:oid:2.16.840.1.113883.2.4.4.7": "gs-hpk", "urn:oid:2.16.840.1.113883.2.4.4.10": "gs-prk",
          "urn:oid:2.16.840.1.113883.2.4.4.1": "gs-gpk", "urn:oid:2.16.840.1.113883.2.4.4.8": "gs-zi",
          "urn:be:samv2:amppackage": "be-sam-ampp", "urn:be:samv2:vmpgroup": "be-sam-vmpgroup",
          "https://www.ehealth.fgov.be/standards/fhir/medication/NamingSystem/cnk-codes": "be-cnk"}
    SYSTEMS.update({short: uri for uri, short in GS.items()})
    for table, system_col, sid in (("gstandaard.tsv", "system_oid", "nictiz-examples"), ("cnk.tsv", "system", "hl7-be-medication")):
        with open(os.path.join(HERE, "drug-sources", table), encoding="utf-8") as f:
            table_rows = list(csv.DictReader(f, delimiter="\t"))
        # A code the examples give different names is kept only when every name means the same
        # set (HYPERICUM TABLET and HYPERIFORCE FORTE TABLET are both St John's wort).
        targets = {}
        for row in table_rows:
            targets.setdefault((row[system_col], row["code"].strip()), set()).add(row["value_set_or_drug"].strip())
        for row in table_rows:
            target = row["value_set_or_drug"].strip()
            conflicting = len(targets[(row[system_col], row["code"].strip())]) > 1
            if target.startswith("CONTROL") or ("CONFLICT" in row.get("data_quality", "") and conflicting):
                continue
            short = GS[row[system_col]]
            code, name = row["code"].strip(), row["display"].strip()
            m = re.match(r"NOT-IN-SET\(([^)]*)\):(.*)", target)
            if m:
                for s_ in m.group(2).split(";"):
                    removed.setdefault(f"{s_}.{short}", {})[code] = (name, f"{m.group(1)} product: not the systemic drug this set means", [sid])
                continue
            for s_ in target.split(";"):
                members.setdefault(f"{s_}.{short}", {})[code] = (name, [sid])
    out = os.path.join(HERE, "expansions")
    for stem, rows in sorted(members.items()):
        key, short = stem.split(".", 1)
        what = f"the drug {key[5:]}" if key.startswith("drug-") else f"value set {key}"
        if short == "rxnorm":
            header = [f"# system: {SYSTEM}", f"# version: {VERSION}", f"# date: {DATE}",
                      f"# method: RxNorm ingredients, clinical and branded drugs, packs and brand names of {what} with a systemic dose form (vaccines: every form), from drug-sources/rxnorm.tsv — built by build_drugs.py"]
        else:
            header = [f"# system: {SYSTEMS[short]}", "# version: codes as used in the public examples named in `from` (not checked against the national product file)", f"# date: {DATE}",
                      f"# method: products of {what} with a systemic dose form found in public national FHIR examples (drug-sources/gstandaard.tsv, cnk.tsv) — built by build_drugs.py"]
        lines = [f"# expansion: {key}"] + header + ["code\tdisplay\tfrom"]
        for code in sorted(rows, key=lambda c: (len(c), c)):
            name, ids = rows[code]
            lines.append(f"{code}\t{name}\t{','.join(ids)}")
        with open(os.path.join(out, f"{stem}.tsv"), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
    for stem, rows in sorted(removed.items()):
        with open(os.path.join(HERE, "removed", f"{stem}.tsv"), "w", encoding="utf-8", newline="\n") as f:
            f.write("code\tdisplay\treason\tfrom\n")
            for code in sorted(rows, key=lambda c: (len(c), c)):
                name, reason, ids = rows[code]
                f.write(f"{code}\t{name}\t{reason}\t{','.join(ids)}\n")
    lines = ["# Sources of the RxNorm expansions (build_drugs.py). Ids are cited in expansions/*.rxnorm.tsv.", ""]
    for sid, s in SOURCES.items():
        lines += [f"[sources.{sid}]"] + [f'{k} = "{v}"' for k, v in s.items()] + [""]
    with open(os.path.join(HERE, "sources.drugs.toml"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines))
    for stem in sorted(members):
        print(f"{stem:45s} {len(members[stem]):5d}  removed {len(removed.get(stem, {})):4d}")


if __name__ == "__main__":
    main()
