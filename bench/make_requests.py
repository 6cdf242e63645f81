#!/usr/bin/env python3
"""Write the benchmark requests bench/small.json, bench/typical.json and bench/heavy.json
(commit the output).

Both are order-select calls with one baricitinib order (a JAK inhibitor, so every JAK rule
runs) for a patient of 71 with atopic dermatitis, built on the fixture
fixtures/requests/baricitinib-age-71-ex-smoker.json and padded with realistic records:
  small:   the fixture as it is: 16 resources, about 11 KB                  (issue 16)
  typical: 20 conditions, 10 medications, 50 observations, 5 immunizations   (issue 8)
  heavy:   500 conditions, 200 medications, 2000 observations, 100 immunizations
The padding mixes irrelevant records with ones the rules read (lab series, an earlier
pneumonia, a resolved malignancy), so the engine does real work on them.
"""
import copy
import datetime
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
BASE = json.loads((HERE.parent / "fixtures/requests/baricitinib-age-71-ex-smoker.json").read_text())
AS_OF = datetime.date(2026, 11, 28)
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"
LOINC = "http://loinc.org"
CVX = "http://hl7.org/fhir/sid/cvx"
CONDITIONS = [("E03.9", "Hypothyreoïdie"), ("K21.9", "Refluxoesofagitis"), ("G43.9", "Migraine"), ("M17.9", "Gonartrose"),
              ("J30.2", "Hooikoorts"), ("M54.5", "Lage rugpijn"), ("K58.9", "Prikkelbaredarmsyndroom"), ("H52.1", "Myopie"),
              ("J18.9", "Pneumonie (hersteld)"), ("C50.9", "Mammacarcinoom (genezen)"), ("I10", "Hypertensie"), ("E78.0", "Hypercholesterolemie"),
              ("F32.9", "Depressie"), ("K80.2", "Galstenen"), ("M81.9", "Osteoporose"), ("L30.9", "Handeczeem"), ("R51", "Hoofdpijn")]
MEDS = [("H03AA01", "Levothyroxine 100 µg"), ("A02BC01", "Omeprazol 20 mg"), ("N02BE01", "Paracetamol 500 mg"),
        ("C09AA02", "Enalapril 10 mg"), ("C10AA05", "Atorvastatine 20 mg"), ("N06AB06", "Sertraline 50 mg"),
        ("R06AE07", "Cetirizine 10 mg"), ("D07AC01", "Betamethason crème"), ("M01AE01", "Ibuprofen 400 mg"), ("A11CC05", "Colecalciferol")]
LABS = [("62238-1", "GFR/1.73 sq M.predicted by CKD-EPI", 78, "mL/min/{1.73_m2}"), ("718-7", "Hemoglobin [Mass/volume] in Blood", 13.9, "g/dL"),
        ("731-0", "Lymphocytes [#/volume] in Blood", 1.8, "10*9/L"), ("751-8", "Neutrophils [#/volume] in Blood", 4.1, "10*9/L"),
        ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", 210, "mg/dL")]
VACCINES = [("140", "Influenza, seasonal, injectable"), ("213", "COVID-19, unspecified"), ("115", "Tdap"), ("33", "Pneumococcal polysaccharide PPV23")]


def ago(days):
    return (AS_OF - datetime.timedelta(days=days)).isoformat()


def entry(resource):
    return {"fullUrl": f"https://ehr.example.org/fhir/R4/{resource['resourceType']}/{resource['id']}", "resource": resource}


def build(n_conditions, n_meds, n_obs, n_imm):
    req = copy.deepcopy(BASE)
    pid = req["context"]["patientId"]
    subject = {"reference": f"Patient/{pid}"}
    pf = req["prefetch"]
    for i in range(n_conditions - len(pf["conditions"]["entry"])):
        code, text = CONDITIONS[i % len(CONDITIONS)]
        resolved = i % 3 == 0
        c = {"resourceType": "Condition", "id": f"bench-cond-{i}",
             "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "resolved" if resolved else "active"}]},
             "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
             "code": {"coding": [{"system": ICD10, "code": code, "display": text}], "text": text},
             "subject": subject, "onsetDateTime": ago(30 + 37 * i)}
        if resolved:
            c["abatementDateTime"] = ago(20 + 37 * i)
        pf["conditions"]["entry"].append(entry(c))
    for i in range(n_meds - len(pf["medications"]["entry"])):
        code, text = MEDS[i % len(MEDS)]
        m = {"resourceType": "MedicationRequest", "id": f"bench-med-{i}", "status": "active" if i % 4 else "completed", "intent": "order",
             "medicationCodeableConcept": {"coding": [{"system": ATC, "code": code, "display": text}], "text": text},
             "subject": subject, "authoredOn": ago(10 + 11 * i),
             "dosageInstruction": [{"text": "1 dd 1 tablet"}]}
        pf["medications"]["entry"].append(entry(m))
    for i in range(n_obs - len(pf["observations"]["entry"])):
        code, text, value, unit = LABS[i % len(LABS)]
        o = {"resourceType": "Observation", "id": f"bench-obs-{i}", "status": "final",
             "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
             "code": {"coding": [{"system": LOINC, "code": code, "display": text}], "text": text},
             "subject": subject, "effectiveDateTime": ago(15 + 3 * i),
             "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}
        pf["observations"]["entry"].append(entry(o))
    for i in range(n_imm - len(pf["immunizations"]["entry"])):
        code, text = VACCINES[i % len(VACCINES)]
        v = {"resourceType": "Immunization", "id": f"bench-imm-{i}", "status": "completed",
             "vaccineCode": {"coding": [{"system": CVX, "code": code, "display": text}], "text": text},
             "patient": subject, "occurrenceDateTime": ago(60 + 90 * i)}
        pf["immunizations"]["entry"].append(entry(v))
    for key in ("conditions", "medications", "observations", "immunizations"):
        pf[key]["total"] = len(pf[key]["entry"])
    return req


if __name__ == "__main__":
    for name, sizes in {"small": (0, 0, 0, 0), "typical": (20, 10, 50, 5), "heavy": (500, 200, 2000, 100)}.items():
        (HERE / f"{name}.json").write_text(json.dumps(build(*sizes), ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"wrote bench/{name}.json")
