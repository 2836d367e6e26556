// Package enroll enrols known people from a folder of their photos into the store: the folder is
// named the way face_recognition's CLI expects, "name.jpg" or "name_N.jpg" for several photos of
// one person (the name may itself contain underscores: "mary_jane_2.jpg" is mary_jane). Scan
// reads such a folder (also for `identify --known`, which matches against it without a
// database); Folder describes each photo's face and stores it as an example of its person, once.
// Used by `facecluster enroll` and the recognizer role's --known-people.
//
// Check is the enrolment quality policy for every way of adding an example (the folder, the
// receiver's examples API, the UI): one face, large, sharp and frontal enough
// (DefaultQualityLimits), measured by the engine (face.MeasureQuality).
package enroll
