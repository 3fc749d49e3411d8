-- Stage DfT STATS19 casualty rows: cast, decode, classify the road user, and take the force from the
-- casualty's collision (in `collisions`), else from the DfT force code at the start of the collision
-- reference (characters 5-6 of the collision index).
with

source as (
    select * from raw_stats19_casualty
),

codes as (
    select * from stats19_codes
),

forces as (
    select * from stats19_forces
),

chosen as (
    select * from stats19_chosen
),

collision_forces as (
    select distinct collision_index, police_force_code from collisions
),

typed as (
    select
        row_ordinal,
        nullif(collision_index, '')                          as collision_index,
        try_cast(collision_year as integer)                  as collision_year,
        vehicle_reference                                    as vehicle_reference_text,
        try_cast(vehicle_reference as integer)               as vehicle_reference,
        casualty_reference                                   as casualty_reference_text,
        try_cast(casualty_reference as integer)              as casualty_reference,
        try_cast(casualty_class as integer)                  as casualty_class_code,
        try_cast(sex_of_casualty as integer)                 as sex_code,
        case when try_cast(age_of_casualty as integer) >= 0 then try_cast(age_of_casualty as integer) end as age_of_casualty,
        try_cast(age_band_of_casualty as integer)            as age_band_code,
        casualty_severity                                    as severity_text,
        try_cast(casualty_severity as integer)               as severity_code,
        casualty_type                                        as casualty_type_text,
        try_cast(casualty_type as integer)                   as casualty_type_code
    from source
),

with_force as (
    select
        typed.*,
        coalesce(
            collision_forces.police_force_code,
            case when regexp_matches(typed.collision_index, '^[0-9]{4}[0-9]{2}')
                 then try_cast(substr(typed.collision_index, 5, 2) as integer) end
        ) as police_force_code
    from typed
    left join collision_forces on collision_forces.collision_index = typed.collision_index
),

decoded as (
    select
        with_force.*,
        forces.force_id,
        (select label from codes where variable = 'casualty_severity' and code = with_force.severity_code) as severity,
        (select label from codes where variable = 'casualty_type' and code = with_force.casualty_type_code) as casualty_type,
        (select label from codes where variable = 'casualty_class' and code = with_force.casualty_class_code) as casualty_class,
        (select label from codes where variable = 'sex_of_casualty' and code = with_force.sex_code) as sex_of_casualty,
        (select label from codes where variable = 'age_band_of_casualty' and code = with_force.age_band_code) as age_band_of_casualty,
        case
            when with_force.casualty_type_code = 0 then 'Pedestrian'
            when with_force.casualty_type_code = 1 then 'Pedal cyclist'
            when with_force.casualty_type_code in (2, 3, 4, 5, 23, 97) then 'Motorcyclist'
            when with_force.casualty_type_code = 9 then 'Car occupant'
            else 'Other'
        end as road_user_type
    from with_force
    left join forces on forces.police_force_code = with_force.police_force_code
),

checked as (
    select
        decoded.*,
        case
            when collision_index is null
                then 'collision_index (accident_index) is empty'
            when force_id is null and not exists (select 1 from chosen where chosen.all_forces)
                then 'the force of collision ' || collision_index || ' is unknown: it is not in the collisions table'
                     || ' and its index carries no DfT police force code (load its collision file too)'
            when casualty_reference is null
                then 'casualty_reference ''' || coalesce(casualty_reference_text, '') || ''' is not a whole number'
            when severity is null
                then 'casualty_severity ''' || coalesce(severity_text, '') || ''' is not 1 (fatal), 2 (serious) or 3 (slight)'
            when casualty_type_code is null
                then 'casualty_type ''' || coalesce(casualty_type_text, '') || ''' is not a DfT casualty type code'
        end as reject_reason,
        force_id is null
            or exists (select 1 from chosen where chosen.all_forces or chosen.police_force_code = decoded.police_force_code)
            as in_scope
    from decoded
),

final as (
    select
        collision_index,
        collision_year,
        vehicle_reference,
        casualty_reference,
        casualty_class,
        sex_of_casualty,
        age_of_casualty,
        age_band_of_casualty,
        severity_code,
        severity,
        casualty_type_code,
        casualty_type,
        road_user_type,
        force_id,
        row_ordinal,
        reject_reason,
        in_scope
    from checked
)

select * from final
